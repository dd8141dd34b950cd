using Bulwark.CardNetwork.Link;
using HdrHistogram;

namespace Bulwark.CardNetwork;

/// <summary>Latency percentiles in milliseconds, from scheduled send time to the answer the merchant got.</summary>
/// <param name="Count">Recorded values.</param>
/// <param name="P50Milliseconds">Median.</param>
/// <param name="P90Milliseconds">90th percentile.</param>
/// <param name="P99Milliseconds">99th percentile.</param>
/// <param name="P999Milliseconds">99.9th percentile.</param>
/// <param name="MaxMilliseconds">Largest.</param>
/// <param name="MeanMilliseconds">Mean.</param>
public sealed record LatencySummary(long Count, double P50Milliseconds, double P90Milliseconds, double P99Milliseconds, double P999Milliseconds, double MaxMilliseconds, double MeanMilliseconds)
{
    /// <summary>No values.</summary>
    public static LatencySummary Empty { get; } = new(0, 0, 0, 0, 0, 0, 0);

    internal static LatencySummary Of(HistogramBase histogram) => histogram.TotalCount == 0
        ? Empty
        : new(
            histogram.TotalCount,
            histogram.GetValueAtPercentile(50) / 1000.0,
            histogram.GetValueAtPercentile(90) / 1000.0,
            histogram.GetValueAtPercentile(99) / 1000.0,
            histogram.GetValueAtPercentile(99.9) / 1000.0,
            histogram.GetMaxValue() / 1000.0,
            histogram.GetMean() / 1000.0);
}

/// <summary>What one run of the simulator did.</summary>
public sealed record SchemeSimulatorResult
{
    /// <summary>When the schedule started.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>How long authorisations were scheduled.</summary>
    public required TimeSpan Elapsed { get; init; }

    /// <summary>The target rate.</summary>
    public required double TargetRatePerSecond { get; init; }

    /// <summary>Authorisations scheduled (each was sent or stood in for at its scheduled time).</summary>
    public required long Scheduled { get; init; }

    /// <summary>Authorisations that reached the wire.</summary>
    public required long Sent { get; init; }

    /// <summary>Issuer approvals (0110 with 00).</summary>
    public required long Approved { get; init; }

    /// <summary>Issuer declines (0110 with another code).</summary>
    public required long Declined { get; init; }

    /// <summary>Approved by the scheme in stand-in.</summary>
    public required long StandInApproved { get; init; }

    /// <summary>Declined by the scheme in stand-in (above the limit, or expired card).</summary>
    public required long StandInDeclined { get; init; }

    /// <summary>Declined with 91 because the issuer did not answer and stand-in was off.</summary>
    public required long IssuerUnavailableDeclined { get; init; }

    /// <summary>Authorisations the issuer did not answer within the deadline.</summary>
    public required long TimedOut { get; init; }

    /// <summary>Authorisations lost with a broken connection.</summary>
    public required long ConnectionLost { get; init; }

    /// <summary>Authorisations not sent: link not signed on, or too many in flight.</summary>
    public required long NotSent { get; init; }

    /// <summary>Answers per response code (field 39), issuer answers only.</summary>
    public required IReadOnlyDictionary<string, long> ResponseCodes { get; init; }

    /// <summary>Advices (0120).</summary>
    public required StoreAndForwardCounts Advices { get; init; }

    /// <summary>Reversals (0400).</summary>
    public required StoreAndForwardCounts Reversals { get; init; }

    /// <summary>Every authorisation: scheduled send time to the answer the merchant got (issuer or stand-in).</summary>
    public required LatencySummary Latency { get; init; }

    /// <summary>Authorisations the issuer answered in time: scheduled send time to the answer.</summary>
    public required LatencySummary IssuerLatency { get; init; }

    /// <summary>
    /// How late the scheduler sent each authorisation after its scheduled time: the simulator's own
    /// share of <see cref="Latency"/> (CPU contention, timer resolution), not the issuer's.
    /// </summary>
    public required LatencySummary SendLag { get; init; }

    /// <summary>The counters of every link added up (with one issuer link, that link's).</summary>
    public required SchemeLinkStatistics Link { get; init; }

    /// <summary>Each link's counters: sent, answered, timed out, ups and downs; links removed while running at the end.</summary>
    public IReadOnlyList<SchemeLinkSummary> Links { get; init; } = [];

    /// <summary>Lines of the link list skipped as malformed (each counted once per new content of the list).</summary>
    public long LinkListMalformedLines { get; init; }

    /// <summary>Times the link list could not be read (the links known were kept).</summary>
    public long LinkListReadErrors { get; init; }

    /// <summary>Authorisations scheduled per second actually achieved.</summary>
    public double AchievedRatePerSecond => Elapsed > TimeSpan.Zero ? Scheduled / Elapsed.TotalSeconds : 0;
}

/// <summary>A status line's worth of the run so far, passed to the progress callback.</summary>
/// <param name="Elapsed">Time since the schedule started.</param>
/// <param name="Scheduled">Authorisations scheduled so far.</param>
/// <param name="Approved">Issuer approvals so far.</param>
/// <param name="Declined">Issuer declines so far.</param>
/// <param name="StandIn">Stand-in decisions so far.</param>
/// <param name="TimedOut">Timeouts so far.</param>
/// <param name="InFlight">Requests on the links now.</param>
/// <param name="SignedOn">Whether at least one link is signed on now.</param>
/// <param name="Interval">Latency of the authorisations answered since the previous call.</param>
public sealed record SchemeProgress(TimeSpan Elapsed, long Scheduled, long Approved, long Declined, long StandIn, long TimedOut, int InFlight, bool SignedOn, LatencySummary Interval)
{
    /// <summary>Links signed on now.</summary>
    public int LinksUp { get; init; }

    /// <summary>Links in the link list now (up or not).</summary>
    public int LinksKnown { get; init; }

    /// <summary>Each link's counters now.</summary>
    public IReadOnlyList<SchemeLinkSummary> Links { get; init; } = [];

    /// <summary>Malformed lines of the link list so far.</summary>
    public long LinkListMalformedLines { get; init; }
}
