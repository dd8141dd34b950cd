using System.Net;
using Bulwark.CardNetwork.Link;
using Bulwark.CardNetwork.Traffic;
using Bulwark.Iso8583;

namespace Bulwark.CardNetwork;

/// <summary>What the simulator does in one run. Defaults are in <see cref="CardNetworkLimits"/>.</summary>
public sealed record SchemeSimulatorOptions
{
    /// <summary>
    /// The issuer processor's ISO 8583 TCP endpoint, when it has one (<c>bulwark run</c>, <c>bulwark
    /// bench auth</c>). Set exactly one of this, <see cref="IssuerEndPoints"/> and <see cref="IssuerLinkSource"/>.
    /// </summary>
    public EndPoint? IssuerEndPoint { get; init; }

    /// <summary>
    /// The card link endpoints of every issuer processor instance: the scheme connects to each, and
    /// each card goes to one of those up (see <see cref="SchemeLinkPool"/>).
    /// </summary>
    public IReadOnlyList<EndPoint>? IssuerEndPoints { get; init; }

    /// <summary>
    /// A link list that may change while running (e.g. <see cref="IssuerLinksFile"/>), read at start
    /// and every <see cref="LinkListRefreshInterval"/>. Empty means no link: every authorisation is stood in for.
    /// </summary>
    public IIssuerLinkSource? IssuerLinkSource { get; init; }

    /// <summary>How often <see cref="IssuerLinkSource"/> is read again.</summary>
    public TimeSpan LinkListRefreshInterval { get; init; } = CardNetworkLimits.LinkListRefreshIntervalDefault;

    /// <summary>
    /// Whether the run fails (<see cref="TimeoutException"/>) when no link signs on within
    /// <see cref="SignOnTimeout"/>. If not, it waits that long for the first link and then runs
    /// anyway, standing in while no link is up, as a scheme does.
    /// </summary>
    public bool SignOnRequired { get; init; } = true;

    /// <summary>
    /// Requests in a row a link may lose to timeouts before the issuer instance is taken as hung and
    /// the link re-established (its cards move to other links meanwhile); 0 leaves it to echoes.
    /// </summary>
    public int LinkTimeoutsInARowMax { get; init; }

    /// <summary>The cards to authorise for (PAN and expiry), e.g. the bank's demo cards.</summary>
    public required IReadOnlyList<SchemeCard> Cards { get; init; }

    /// <summary>Authorisations scheduled per second (open loop).</summary>
    public double RatePerSecond { get; init; } = 100;

    /// <summary>How long to schedule authorisations; null runs until cancelled.</summary>
    public TimeSpan? Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Unmeasured traffic before the measured <see cref="Duration"/> (JIT, connection pools and
    /// caches warm up): sent and handled like any other, left out of the result's counts and latency.
    /// </summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.Zero;

    /// <summary>The scheme's wait for an issuer answer before standing in.</summary>
    public TimeSpan ResponseDeadline { get; init; } = CardNetworkLimits.ResponseDeadlineDefault;

    /// <summary>Whether the scheme stands in for an issuer that does not answer; if not, it declines (91) and reverses.</summary>
    public bool StandInEnabled { get; init; } = true;

    /// <summary>Stand-in approves up to this amount in pence and declines above it.</summary>
    public long StandInLimitMinor { get; init; } = CardNetworkLimits.StandInLimitMinorDefault;

    /// <summary>Share of issuer approvals the merchant later cancels with a reversal (0400), 0-1.</summary>
    public double ReversalShare { get; init; } = 0.02;

    /// <summary>Card acceptors in the merchant population.</summary>
    public int MerchantCount { get; init; } = 200;

    /// <summary>Seed for cards, merchants, amounts and shares: the same seed gives the same traffic.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>How often the link echoes.</summary>
    public TimeSpan EchoInterval { get; init; } = CardNetworkLimits.EchoIntervalDefault;

    /// <summary>First and longest wait before reconnecting.</summary>
    public TimeSpan ReconnectDelayMin { get; init; } = CardNetworkLimits.ReconnectDelayMinDefault;

    /// <summary>Longest wait before reconnecting.</summary>
    public TimeSpan ReconnectDelayMax { get; init; } = CardNetworkLimits.ReconnectDelayMaxDefault;

    /// <summary>How long the run waits for the first sign-on before failing.</summary>
    public TimeSpan SignOnTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempts per advice or reversal before it is abandoned.</summary>
    public int StoreAndForwardAttemptsMax { get; init; } = CardNetworkLimits.StoreAndForwardAttemptsMaxDefault;

    /// <summary>Wait between attempts of the same advice or reversal.</summary>
    public TimeSpan StoreAndForwardRetryDelay { get; init; } = CardNetworkLimits.StoreAndForwardRetryDelayDefault;

    /// <summary>After the schedule ends, how long to wait for advices and reversals to be acknowledged.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests in flight on the link at most.</summary>
    public int InFlightMax { get; init; } = CardNetworkLimits.InFlightMaxDefault;

    /// <summary>Keep approvals for the clearing file (off for long benchmarks to save memory).</summary>
    public bool KeepApprovalsForClearing { get; init; } = true;

    /// <summary>
    /// When set, clearing files are written here: each completed UTC day's within a minute of
    /// midnight, and the rest when the run ends (see <see cref="SchemeSimulator.WriteClearingFiles"/>).
    /// </summary>
    public string? ClearingDirectory { get; init; }

    /// <summary>Approvals kept for clearing at most.</summary>
    public int ClearingRecordsMax { get; init; } = CardNetworkLimits.ClearingRecordsMaxDefault;

    /// <summary>How often the progress callback is called.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Field 32 of every message.</summary>
    public string AcquiringInstitutionId { get; init; } = "400012";

    /// <summary>The options of the link to <paramref name="issuerEndPoint"/> these options imply.</summary>
    public SchemeLinkOptions ToLinkOptions(EndPoint issuerEndPoint) => new()
    {
        IssuerEndPoint = issuerEndPoint,
        TimeoutsInARowMax = LinkTimeoutsInARowMax,
        ResponseDeadline = ResponseDeadline,
        EchoInterval = EchoInterval,
        ReconnectDelayMin = ReconnectDelayMin,
        ReconnectDelayMax = ReconnectDelayMax,
        InFlightMax = InFlightMax,
        AcquiringInstitutionId = AcquiringInstitutionId,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Cards);
        if (Cards.Count == 0)
        {
            throw new ArgumentException("The simulator needs at least one card.");
        }

        foreach (var card in Cards)
        {
            card.Validate();
        }

        if (!(RatePerSecond > 0 && RatePerSecond <= CardNetworkLimits.RatePerSecondMax))
        {
            throw new ArgumentException($"{nameof(RatePerSecond)} must be above 0 and at most {CardNetworkLimits.RatePerSecondMax}, not {RatePerSecond}.");
        }

        if (Duration is { } duration && duration <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(Duration)} must be positive.");
        }

        if (Warmup < TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(Warmup)} must not be negative.");
        }

        if (StandInLimitMinor < 0 || ReversalShare is < 0 or > 1 || double.IsNaN(ReversalShare))
        {
            throw new ArgumentException($"{nameof(StandInLimitMinor)} must be at least 0 and {nameof(ReversalShare)} 0-1.");
        }

        if (MerchantCount is < 1 or > 100_000 || ClearingRecordsMax < 0)
        {
            throw new ArgumentException($"{nameof(MerchantCount)} must be 1-100000 and {nameof(ClearingRecordsMax)} at least 0.");
        }

        if (SignOnTimeout <= TimeSpan.Zero || DrainTimeout < TimeSpan.Zero || ProgressInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(SignOnTimeout)} and {nameof(ProgressInterval)} must be positive, {nameof(DrainTimeout)} not negative.");
        }

        if (StoreAndForwardAttemptsMax is < 1 or > 1_000 || StoreAndForwardRetryDelay < TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(StoreAndForwardAttemptsMax)} must be 1-1000 and {nameof(StoreAndForwardRetryDelay)} not negative.");
        }

        var sources = (IssuerEndPoint is null ? 0 : 1) + (IssuerEndPoints is null ? 0 : 1) + (IssuerLinkSource is null ? 0 : 1);
        if (sources != 1)
        {
            throw new ArgumentException($"Set exactly one of {nameof(IssuerEndPoint)}, {nameof(IssuerEndPoints)} and {nameof(IssuerLinkSource)}.");
        }

        if (IssuerEndPoints is { } endPoints && (endPoints.Count is 0 or > CardNetworkLimits.IssuerLinksMax || endPoints.Any(endPoint => endPoint is null)))
        {
            throw new ArgumentException($"{nameof(IssuerEndPoints)} must list 1-{CardNetworkLimits.IssuerLinksMax} endpoints, and no null.");
        }

        if (LinkListRefreshInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(LinkListRefreshInterval)} must be positive.");
        }

        ToLinkOptions(IssuerEndPoint ?? IssuerEndPoints?[0] ?? new IPEndPoint(IPAddress.Loopback, 1)).Validate();
    }

    /// <summary>The link list these options give: the fixed endpoint(s), or the changing source.</summary>
    internal IIssuerLinkSource LinkSource() =>
        IssuerLinkSource ?? new FixedIssuerLinks(IssuerEndPoints ?? [IssuerEndPoint!]);
}

/// <summary>Field 22 values the simulator sends: PAN entry mode (2 digits) and PIN capability (1 digit).</summary>
public static class PosEntryModes
{
    /// <summary>071: contactless chip, terminal accepts PIN.</summary>
    public const string Contactless = "071";

    /// <summary>051: chip read, terminal accepts PIN (chip and PIN).</summary>
    public const string ChipAndPin = "051";

    /// <summary>812: e-commerce (card not present), no PIN capability.</summary>
    public const string Ecommerce = "812";

    /// <summary>Whether the card was present at the terminal.</summary>
    public static bool IsCardPresent(string posEntryMode) => !string.Equals(posEntryMode, Ecommerce, StringComparison.Ordinal);

    /// <summary>The codec's field number, for readers of this class.</summary>
    public const int FieldNumber = Iso8583Fields.PosEntryMode;
}
