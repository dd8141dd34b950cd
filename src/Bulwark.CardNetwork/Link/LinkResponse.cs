using Bulwark.Iso8583;

namespace Bulwark.CardNetwork.Link;

/// <summary>What became of one request sent on the link.</summary>
public enum LinkOutcome
{
    /// <summary>The issuer answered with the matching response MTI, STAN and RRN.</summary>
    Answered,

    /// <summary>No answer within the response deadline.</summary>
    TimedOut,

    /// <summary>The link was not signed on: the request was never sent.</summary>
    NotSignedOn,

    /// <summary>The connection broke after the request was sent and before its answer came.</summary>
    ConnectionLost,

    /// <summary>Too many requests in flight: the request was never sent.</summary>
    Overloaded,
}

/// <summary>The outcome of a request and, when answered, the issuer's response.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Message">The response, when <see cref="LinkOutcome.Answered"/>.</param>
public readonly record struct LinkResponse(LinkOutcome Outcome, Iso8583Message? Message)
{
    /// <summary>Whether the request reached the wire (so the issuer may have acted on it).</summary>
    public bool WasSent => Outcome is LinkOutcome.Answered or LinkOutcome.TimedOut or LinkOutcome.ConnectionLost;
}

/// <summary>Identifies the answer a request waits for: response MTI, STAN (field 11) and RRN (field 37, empty when absent).</summary>
internal readonly record struct PendingKey(int ResponseMti, int SystemsTraceAuditNumber, string RetrievalReferenceNumber);
