using System.Globalization;
using System.Net;
using Bulwark.Iso8583;

namespace Bulwark.Cards;

/// <summary>The issuer processor's settings. Limits are named with their unit last.</summary>
public sealed class CardsOptions
{
    /// <summary>Where the ISO 8583 link listens. Default: 127.0.0.1 on a free port.</summary>
    public IPEndPoint LinkEndpoint { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>The SQLite journal (decisions, early reversals, stand-in). Required.</summary>
    public string JournalPath { get; init; } = "";

    /// <summary>The ledger account credited by card holds (the scheme settlement account), 32 hex digits. Required.</summary>
    public string SettlementLedgerAccountId { get; init; } = "";

    /// <summary>The largest message accepted on the link. Default: 4,096 bytes.</summary>
    public int MessageBytesMax { get; init; } = Iso8583Limits.MessageBytesMaxDefault;

    /// <summary>Requests one connection may have in flight before the link stops reading from it. Default: 256.</summary>
    public int InFlightPerConnectionMax { get; init; } = 256;

    /// <summary>Scheme connections served at once; more are refused. Default: 16.</summary>
    public int ConnectionsMax { get; init; } = 16;

    /// <summary>
    /// The source addresses (CIDR blocks such as <c>10.20.0.0/16</c>, or single addresses) that may
    /// connect to the link; a connection from anywhere else is closed at once. Default: loopback only
    /// (<c>127.0.0.0/8</c> and <c>::1</c>), which is where <c>bulwark run</c> and the local cluster's
    /// simulator connect from. Add the scheme's addresses: docs/runbooks/card-link-allow-list.md.
    /// </summary>
    public IReadOnlyList<string> LinkAllowedSources { get; init; } = ["127.0.0.0/8", "::1/128"];

    /// <summary>A connection on which no message arrives for this long is closed (the scheme echoes every 30-60 s). Default: 2 minutes.</summary>
    public TimeSpan LinkIdleTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A message whose first bytes have arrived must be complete within this. Default: 30 seconds.</summary>
    public TimeSpan LinkReadTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Writing one answer may take this long; a peer that stops reading longer loses the connection. Default: 10 seconds.</summary>
    public TimeSpan LinkWriteTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an authorisation may take inside the bank before stand-in decides. Default: 1 second.</summary>
    public TimeSpan DeadlineBudget { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a hold lives in the ledger when nothing presents it. Default: 7 days.</summary>
    public int HoldTimeoutSeconds { get; init; } = 7 * 24 * 3600;

    /// <summary>The largest authorisation amount accepted; above it: 13. Default: 1,000,000.00 (minor units).</summary>
    public long AmountMaxMinor { get; init; } = 100_000_000;

    /// <summary>
    /// Stand-in limit per card: the most the bank approves for one card, in total, while the ledger
    /// does not answer. 0 disables stand-in (then 91). Default: 100.00 (minor units).
    /// </summary>
    public long StandInLimitPerCardMinor { get; init; } = 10_000;

    /// <summary>
    /// How often an account's cached available balance (stand-in's view of its money) is re-read
    /// from the ledger, at most, after a card hold on it. Default: 5 seconds.
    /// </summary>
    public TimeSpan StandInBalanceRefreshInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A cached available balance older than this is not used by stand-in (the card limit alone decides). Default: 10 minutes.</summary>
    public TimeSpan StandInBalanceAgeMax { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often journalled stand-in decisions not yet in the ledger are retried. Default: 1 second.</summary>
    public TimeSpan StandInReplayInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Decisions kept in memory to answer duplicates without the journal. Default: 100,000.</summary>
    public int DecisionCacheEntriesMax { get; init; } = 100_000;

    /// <summary>The clock for card expiry and deadlines (tests pass a fake one). Default: the system clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    internal UInt128 SettlementAccount => UInt128.Parse(SettlementLedgerAccountId, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    /// <summary>Throws when an option is unusable, so that a misconfigured process fails at start.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(LinkEndpoint);
        if (string.IsNullOrWhiteSpace(JournalPath))
        {
            throw new ArgumentException("CardsOptions.JournalPath is required.");
        }
        if (!UInt128.TryParse(SettlementLedgerAccountId, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var settlement) || settlement == UInt128.Zero)
        {
            throw new ArgumentException("CardsOptions.SettlementLedgerAccountId must be a non-zero ledger account id in hex.");
        }
        if (MessageBytesMax is < Iso8583Limits.MessageBytesMin or > 65_535)
        {
            throw new ArgumentException("CardsOptions.MessageBytesMax must be 12-65535.");
        }
        if (InFlightPerConnectionMax is < 1 or > 65_536 || ConnectionsMax is < 1 or > 1_024)
        {
            throw new ArgumentException("CardsOptions.InFlightPerConnectionMax must be 1-65536 and ConnectionsMax 1-1024.");
        }
        if (DeadlineBudget <= TimeSpan.Zero || DeadlineBudget > TimeSpan.FromSeconds(30) || StandInReplayInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("CardsOptions.DeadlineBudget must be in (0, 30 s] and StandInReplayInterval positive.");
        }
        if (StandInBalanceRefreshInterval <= TimeSpan.Zero || StandInBalanceAgeMax <= TimeSpan.Zero)
        {
            throw new ArgumentException("CardsOptions.StandInBalanceRefreshInterval and StandInBalanceAgeMax must be positive.");
        }
        ValidateLink();
        if (HoldTimeoutSeconds < 1 || AmountMaxMinor < 1 || StandInLimitPerCardMinor < 0 || DecisionCacheEntriesMax < 1)
        {
            throw new ArgumentException("CardsOptions: HoldTimeoutSeconds, AmountMaxMinor and DecisionCacheEntriesMax must be positive, StandInLimitPerCardMinor not negative.");
        }
    }

    private void ValidateLink()
    {
        ArgumentNullException.ThrowIfNull(LinkAllowedSources);
        if (LinkAllowedSources.Count == 0)
        {
            throw new ArgumentException("CardsOptions.LinkAllowedSources is empty: no scheme could connect. Keep the loopback default or list the scheme's addresses.");
        }
        foreach (var source in LinkAllowedSources)
        {
            if (!Bulwark.Platform.Security.SourceNetworks.TryParse(source, out _))
            {
                throw new ArgumentException($"CardsOptions.LinkAllowedSources: '{source}' is not an IP address or a CIDR block such as 10.20.0.0/16.");
            }
        }
        if (LinkIdleTimeout <= TimeSpan.Zero || LinkReadTimeout <= TimeSpan.Zero || LinkWriteTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("CardsOptions.LinkIdleTimeout, LinkReadTimeout and LinkWriteTimeout must be positive.");
        }
    }
}
