namespace Bulwark.CardNetwork.Link;

/// <summary>Counts of what happened on a link since it was created.</summary>
public sealed record SchemeLinkStatistics
{
    /// <summary>TCP connections established.</summary>
    public long Connects { get; init; }

    /// <summary>TCP connects that failed or timed out.</summary>
    public long ConnectFailures { get; init; }

    /// <summary>Sign-ons (0810 with 00) completed.</summary>
    public long SignOns { get; init; }

    /// <summary>Sign-ons refused or unanswered.</summary>
    public long SignOnFailures { get; init; }

    /// <summary>Established connections that ended.</summary>
    public long Disconnects { get; init; }

    /// <summary>Messages written to the issuer, including responses to its own 0800s.</summary>
    public long MessagesSent { get; init; }

    /// <summary>Responses matched to a waiting request.</summary>
    public long ResponsesMatched { get; init; }

    /// <summary>Requests that got no answer within the deadline.</summary>
    public long TimedOut { get; init; }

    /// <summary>Answers that arrived after their request had timed out.</summary>
    public long LateResponses { get; init; }

    /// <summary>Answers whose STAN and RRN match no request (not even a timed-out one).</summary>
    public long UnknownResponses { get; init; }

    /// <summary>Answers whose STAN and RRN match a request but whose MTI is not that request's response.</summary>
    public long WrongMtiResponses { get; init; }

    /// <summary>Well-framed messages the codec rejected (dropped, the link stays up).</summary>
    public long MalformedMessages { get; init; }

    /// <summary>Broken length headers (the connection is closed and re-established).</summary>
    public long FramingErrors { get; init; }

    /// <summary>Requests from the issuer other than 0800 (dropped).</summary>
    public long UnexpectedRequests { get; init; }

    /// <summary>0800s from the issuer answered with 0810.</summary>
    public long IssuerNetworkRequestsAnswered { get; init; }

    /// <summary>Echoes sent.</summary>
    public long EchoesSent { get; init; }

    /// <summary>Echoes unanswered within the deadline.</summary>
    public long EchoMisses { get; init; }

    /// <summary>Requests refused because <see cref="SchemeLinkOptions.InFlightMax"/> were in flight.</summary>
    public long OverloadRejections { get; init; }

    /// <summary>Signed-on connections that ended: the link went down (its cards moved to other links).</summary>
    public long LinkDowns { get; init; }

    /// <summary>Connections closed because <see cref="SchemeLinkOptions.TimeoutsInARowMax"/> requests in a row went unanswered.</summary>
    public long HungConnections { get; init; }

    /// <summary>The counters of several links added up (a scheme connected to several issuer instances).</summary>
    public static SchemeLinkStatistics Sum(IEnumerable<SchemeLinkStatistics> statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        var sum = new SchemeLinkStatistics();
        foreach (var s in statistics)
        {
            sum = new SchemeLinkStatistics
            {
                Connects = sum.Connects + s.Connects,
                ConnectFailures = sum.ConnectFailures + s.ConnectFailures,
                SignOns = sum.SignOns + s.SignOns,
                SignOnFailures = sum.SignOnFailures + s.SignOnFailures,
                Disconnects = sum.Disconnects + s.Disconnects,
                MessagesSent = sum.MessagesSent + s.MessagesSent,
                ResponsesMatched = sum.ResponsesMatched + s.ResponsesMatched,
                TimedOut = sum.TimedOut + s.TimedOut,
                LateResponses = sum.LateResponses + s.LateResponses,
                UnknownResponses = sum.UnknownResponses + s.UnknownResponses,
                WrongMtiResponses = sum.WrongMtiResponses + s.WrongMtiResponses,
                MalformedMessages = sum.MalformedMessages + s.MalformedMessages,
                FramingErrors = sum.FramingErrors + s.FramingErrors,
                UnexpectedRequests = sum.UnexpectedRequests + s.UnexpectedRequests,
                IssuerNetworkRequestsAnswered = sum.IssuerNetworkRequestsAnswered + s.IssuerNetworkRequestsAnswered,
                EchoesSent = sum.EchoesSent + s.EchoesSent,
                EchoMisses = sum.EchoMisses + s.EchoMisses,
                OverloadRejections = sum.OverloadRejections + s.OverloadRejections,
                LinkDowns = sum.LinkDowns + s.LinkDowns,
                HungConnections = sum.HungConnections + s.HungConnections,
            };
        }

        return sum;
    }
}
