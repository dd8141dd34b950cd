using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bulwark.Feed.Protos;
using Bulwark.Feed.Telemetry;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Feed.Tests.Telemetry;

public sealed class FeedMetricsTests
{
    [Fact]
    public async Task Requests_NotFoundAndOk_CountedByOutcomeAndNotFoundSeparately()
    {
        await using var host = await FeedTestHost.StartAsync();
        var meterFactory = host.Services.GetRequiredService<IMeterFactory>();
        var measurements = new ConcurrentQueue<(string Instrument, string? Method, string? Outcome)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Other tests run hosts at the same time; listen only to this host's meters.
            if (instrument.Meter.Name == FeedMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            string? method = null, outcome = null;
            foreach (var tag in tags)
            {
                method = tag.Key == "method" ? tag.Value as string : method;
                outcome = tag.Key == "outcome" ? tag.Value as string : outcome;
            }
            measurements.Enqueue((instrument.Name, method, outcome));
        });
        listener.Start();
        var account = await host.FundedAccountAsync(100);

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => host.Feed.ListFeedAsync(new ListFeedRequest { LedgerAccountId = FeedTestHost.NewId() }).ResponseAsync);
        await host.Feed.ListFeedAsync(new ListFeedRequest { LedgerAccountId = account });
        await host.Feed.SpentTodayAsync(new SpentTodayRequest { LedgerAccountId = account });

        Assert.Contains((FeedMetrics.RequestsName, "ListFeed", "NotFound"), measurements);
        Assert.Contains((FeedMetrics.RequestsName, "ListFeed", "OK"), measurements);
        Assert.Contains((FeedMetrics.RequestsName, "SpentToday", "OK"), measurements);
        Assert.Equal([(FeedMetrics.NotFoundName, "ListFeed", null)], measurements.Where(m => m.Instrument == FeedMetrics.NotFoundName));
    }
}
