using System.Diagnostics.Metrics;
using Bulwark.Platform.Telemetry;
using Grpc.Core;

namespace Bulwark.Feed.Telemetry;

/// <summary>
/// The feed's instruments on meter <see cref="MeterName"/>: every request by method and outcome,
/// NOT_FOUND on a counter of its own, and how many ledger pages each answer needed.
/// </summary>
public sealed class FeedMetrics : ICallOutcomeRecorder
{
    public const string MeterName = "Bulwark.Feed";
    public const string RequestsName = "bulwark.feed.requests";
    public const string NotFoundName = "bulwark.feed.not_found";
    public const string LedgerPagesName = "bulwark.feed.ledger_pages";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _notFound;
    private readonly Histogram<int> _ledgerPages;

    public FeedMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>(RequestsName, "{request}", "Feed requests by method and outcome (gRPC status).");
        _notFound = meter.CreateCounter<long>(NotFoundName, "{request}", "Feed requests answered NOT_FOUND, by method.");
        _ledgerPages = meter.CreateHistogram<int>(LedgerPagesName, "{page}", "Ledger pages read to answer one feed request.");
    }

    public void RecordRequest(string method, StatusCode outcome)
    {
        _requests.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("outcome", outcome.ToString()));
        if (outcome == StatusCode.NotFound)
        {
            _notFound.Add(1, new KeyValuePair<string, object?>("method", method));
        }
    }

    public void RecordLedgerPages(string method, int pages) =>
        _ledgerPages.Record(pages, new KeyValuePair<string, object?>("method", method));
}
