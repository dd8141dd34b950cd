using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bulwark.Config.Protos;
using Bulwark.Config.Telemetry;
using Bulwark.Config.Tests.Watch;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Config.Tests.Telemetry;

public sealed class ConfigMetricsTests
{
    [Fact]
    public async Task Calls_CountedByMethodAndOutcome_NotFoundApart_RevisionAndWatchersObserved()
    {
        await using var host = await ConfigTestHost.StartAsync();
        var meterFactory = host.Services.GetRequiredService<IMeterFactory>();
        var measurements = new ConcurrentQueue<(string Instrument, string? Method, string? Outcome)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Other tests run hosts at the same time; listen only to this host's meters.
            if (instrument.Meter.Name == ConfigMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory))
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
        var metrics = host.Services.GetRequiredService<ConfigMetrics>();

        await host.Client.PutAsync(new PutRequest { Key = "a", Value = "1", Reason = "r" });
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => host.Client.GetAsync(new GetRequest { Key = "never" }).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => host.Client.PutAsync(new PutRequest { Key = "a", Value = "1", Reason = "r" }).ResponseAsync);
        using (var watch = new WatchStream(host.Client, new WatchRequest { FromRevision = 99 }))
        {
            await watch.FailureAsync();
        }
        using (var watch = new WatchStream(host.Client, new WatchRequest()))
        {
            await watch.NextAsync();
            Assert.Equal(1, metrics.Watchers);
        }

        Assert.Contains((ConfigMetrics.RequestsName, "Put", "OK"), measurements);
        Assert.Contains((ConfigMetrics.RequestsName, "Put", "FailedPrecondition"), measurements);
        Assert.Contains((ConfigMetrics.RequestsName, "Get", "NotFound"), measurements);
        Assert.Contains((ConfigMetrics.RequestsName, "Watch", "OutOfRange"), measurements);
        Assert.Equal([(ConfigMetrics.NotFoundName, "Get", null)], measurements.Where(m => m.Instrument == ConfigMetrics.NotFoundName));
        Assert.Equal(1, metrics.Revision);
    }
}
