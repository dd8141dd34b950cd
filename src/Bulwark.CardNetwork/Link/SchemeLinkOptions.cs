using System.Net;
using Bulwark.Iso8583;

namespace Bulwark.CardNetwork.Link;

/// <summary>How the scheme's link to one issuer behaves. Defaults are in <see cref="CardNetworkLimits"/>.</summary>
public sealed record SchemeLinkOptions
{
    /// <summary>The issuer processor's ISO 8583 TCP endpoint.</summary>
    public required EndPoint IssuerEndPoint { get; init; }

    /// <summary>How long a request waits for its answer before it counts as timed out.</summary>
    public TimeSpan ResponseDeadline { get; init; } = CardNetworkLimits.ResponseDeadlineDefault;

    /// <summary>How often an 0800 echo (301) is sent while signed on.</summary>
    public TimeSpan EchoInterval { get; init; } = CardNetworkLimits.EchoIntervalDefault;

    /// <summary>Consecutive unanswered echoes after which the connection is re-established.</summary>
    public int EchoMissesMax { get; init; } = CardNetworkLimits.EchoMissesMaxDefault;

    /// <summary>
    /// Requests in a row that time out, with no answer between them, after which the issuer is taken
    /// as hung and the connection re-established (0: never; only unanswered echoes end a connection).
    /// </summary>
    public int TimeoutsInARowMax { get; init; }

    /// <summary>How long one TCP connect may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = CardNetworkLimits.ConnectTimeoutDefault;

    /// <summary>First wait before reconnecting.</summary>
    public TimeSpan ReconnectDelayMin { get; init; } = CardNetworkLimits.ReconnectDelayMinDefault;

    /// <summary>Longest wait before reconnecting.</summary>
    public TimeSpan ReconnectDelayMax { get; init; } = CardNetworkLimits.ReconnectDelayMaxDefault;

    /// <summary>Requests awaiting an answer at once; more are refused with <see cref="LinkOutcome.Overloaded"/>.</summary>
    public int InFlightMax { get; init; } = CardNetworkLimits.InFlightMaxDefault;

    /// <summary>Largest message accepted from the issuer.</summary>
    public int MessageBytesMax { get; init; } = Iso8583Limits.MessageBytesMaxDefault;

    /// <summary>Field 32 of every message the scheme originates.</summary>
    public string AcquiringInstitutionId { get; init; } = "400012";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(IssuerEndPoint);
        Positive(ResponseDeadline, nameof(ResponseDeadline));
        Positive(EchoInterval, nameof(EchoInterval));
        Positive(ConnectTimeout, nameof(ConnectTimeout));
        Positive(ReconnectDelayMin, nameof(ReconnectDelayMin));
        if (ReconnectDelayMax < ReconnectDelayMin)
        {
            throw new ArgumentException($"{nameof(ReconnectDelayMax)} must be at least {nameof(ReconnectDelayMin)}.");
        }

        if (EchoMissesMax is < 1 or > 100)
        {
            throw new ArgumentException($"{nameof(EchoMissesMax)} must be 1-100, not {EchoMissesMax}.");
        }

        if (TimeoutsInARowMax is < 0 or > 1_000_000)
        {
            throw new ArgumentException($"{nameof(TimeoutsInARowMax)} must be 0-1000000, not {TimeoutsInARowMax}.");
        }

        if (InFlightMax < 1 || InFlightMax > CardNetworkLimits.InFlightMaxCeiling)
        {
            throw new ArgumentException($"{nameof(InFlightMax)} must be 1-{CardNetworkLimits.InFlightMaxCeiling}, not {InFlightMax}.");
        }

        if (MessageBytesMax < Iso8583Limits.MessageBytesMin || MessageBytesMax > Iso8583Limits.FrameMessageBytesMax)
        {
            throw new ArgumentException($"{nameof(MessageBytesMax)} must be {Iso8583Limits.MessageBytesMin}-{Iso8583Limits.FrameMessageBytesMax}.");
        }

        if (string.IsNullOrEmpty(AcquiringInstitutionId) || AcquiringInstitutionId.Length > 11 || !AcquiringInstitutionId.All(char.IsAsciiDigit))
        {
            throw new ArgumentException($"{nameof(AcquiringInstitutionId)} must be 1-11 digits.");
        }
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{name} must be positive, not {value}.");
        }
    }
}
