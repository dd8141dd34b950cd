using Bulwark.Platform.Security;

namespace Bulwark.Edge.Staff;

/// <summary>
/// The internal staff edge (docs/concepts/staff-edge.md): staff tokens of their own, the source
/// ranges staff requests must come from, and the proxies whose forwarded-for header is believed.
/// </summary>
public sealed class StaffEdgeOptions
{
    /// <summary>The ranges used while configuration has never given any (and no last good value is on disk): loopback only.</summary>
    public static readonly IReadOnlyList<string> LoopbackOnly = ["127.0.0.0/8", "::1/128"];

    /// <summary>
    /// The first key of the staff token ring (<c>staff-signing.key</c>; added keys beside it as
    /// <c>staff-signing.ID.key</c>). A ring of its own: a customer token can never pass for a
    /// staff one, whatever its claims, and the other way round.
    /// </summary>
    public string SigningKeyPath { get; init; } = "";

    /// <summary>Deadline of one call to the staff directory. Default as the app API's calls.</summary>
    public TimeSpan ServiceCallTimeout { get; init; } = TimeSpan.FromMilliseconds(EdgeLimits.ServiceCallTimeoutMillisecondsDefault);

    /// <summary>
    /// How long the operator gateway waits for a service's answer to a forwarded call that names no
    /// deadline of its own (a caller's grpc-timeout is honoured, up to 10 minutes). Default 30 s:
    /// the CLI's own deadline (15 s) speaks first. 1 s to 10 minutes.
    /// </summary>
    public TimeSpan OperatorCallTimeout { get; init; } = TimeSpan.FromSeconds(Operator.OperatorGatewayLimits.ForwardTimeoutSecondsDefault);

    /// <summary>How long a staff token is valid. Default 1 hour; 5 minutes to 12 hours.</summary>
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Proxies in front of the staff edge whose <c>X-Forwarded-For</c> is believed (CIDR blocks or
    /// addresses). Empty (the default): the TCP peer is the source and the header is ignored.
    /// </summary>
    public IReadOnlyList<string> TrustedProxies { get; init; } = [];

    /// <summary>The ranges staff requests may come from until configuration has said otherwise.</summary>
    public IReadOnlyList<string> DefaultAllowedRanges { get; init; } = LoopbackOnly;

    /// <summary>Throws when an option is unusable, so that a misconfigured edge fails at start.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(SigningKeyPath))
        {
            throw new ArgumentException("StaffEdgeOptions.SigningKeyPath is required.");
        }
        if (TokenLifetime < TimeSpan.FromMinutes(StaffEdgeLimits.TokenLifetimeMinutesMin) || TokenLifetime > TimeSpan.FromHours(StaffEdgeLimits.TokenLifetimeHoursMax))
        {
            throw new ArgumentException($"StaffEdgeOptions.TokenLifetime must be {StaffEdgeLimits.TokenLifetimeMinutesMin} minutes to {StaffEdgeLimits.TokenLifetimeHoursMax} hours.");
        }
        if (ServiceCallTimeout < TimeSpan.FromMilliseconds(EdgeLimits.ServiceCallTimeoutMillisecondsMin)
            || ServiceCallTimeout > TimeSpan.FromMilliseconds(EdgeLimits.ServiceCallTimeoutMillisecondsMax))
        {
            throw new ArgumentException($"StaffEdgeOptions.ServiceCallTimeout must be {EdgeLimits.ServiceCallTimeoutMillisecondsMin} to {EdgeLimits.ServiceCallTimeoutMillisecondsMax} ms.");
        }
        if (OperatorCallTimeout < TimeSpan.FromSeconds(1) || OperatorCallTimeout > TimeSpan.FromSeconds(Operator.OperatorGatewayLimits.ForwardTimeoutSecondsMax))
        {
            throw new ArgumentException($"StaffEdgeOptions.OperatorCallTimeout must be 1 s to {Operator.OperatorGatewayLimits.ForwardTimeoutSecondsMax} s.");
        }
        foreach (var (name, list) in new[] { ("TrustedProxies", TrustedProxies), ("DefaultAllowedRanges", DefaultAllowedRanges) })
        {
            foreach (var entry in list)
            {
                if (!SourceNetworks.TryParse(entry, out _))
                {
                    throw new ArgumentException($"StaffEdgeOptions.{name}: '{entry}' is not an IP address or a CIDR block.");
                }
            }
        }
        if (DefaultAllowedRanges.Count == 0)
        {
            throw new ArgumentException("StaffEdgeOptions.DefaultAllowedRanges must name at least one network (loopback by default).");
        }
    }
}

/// <summary>The staff edge's limits.</summary>
public static class StaffEdgeLimits
{
    /// <summary>The shortest reason a staff member gives for viewing a customer or acting: "chat" is a reason, "x" is not.</summary>
    public const int ReasonLengthMin = 3;

    /// <summary>The header an operator call (the operator CLI to the gateway) states its reason in, percent-encoded.</summary>
    public const string OperatorReasonHeader = "x-bulwark-reason";

    /// <summary>The longest reason: a sentence or two for the audit log, not a document.</summary>
    public const int ReasonLengthMax = 500;

    /// <summary>The longest search text (an email's longest).</summary>
    public const int SearchTextLengthMax = 254;

    /// <summary>Feed items in the first page of a customer view.</summary>
    public const int FeedPageDefault = EdgeLimits.FeedPageLimitDefault;

    public const int TokenLifetimeMinutesMin = 5;

    public const int TokenLifetimeHoursMax = 12;

    /// <summary>Most addresses read from one X-Forwarded-For header (a longer chain is refused, not truncated).</summary>
    public const int ForwardedForAddressesMax = 16;

    /// <summary>Longest staff email, password and TOTP code accepted at login (characters).</summary>
    public const int EmailLengthMax = 254;

    public const int PasswordLengthMax = 256;

    public const int TotpCodeLengthMax = 10;

    /// <summary>The support service's ChatClientMessageIdLengthMax: room for a UUID and a prefix.</summary>
    public const int ChatClientMessageIdLengthMax = 64;

    /// <summary>Conversations in one page of the console's list (the support service's ListConversationsLimitMax).</summary>
    public const int ChatsPageLimitMax = 200;
}
