using System.Diagnostics.Metrics;
using Bulwark.Coherence.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Coherence.Tests.Telemetry;

public sealed class CoherenceMetricsTests : IDisposable
{
    private readonly ServiceProvider _provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, long Value, Dictionary<string, object?> Tags)> _measurements = [];

    public CoherenceMetricsTests()
    {
        var meters = _provider.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Only this test's meters: other tests' hosts run at the same time.
            if (instrument.Meter.Scope == meters)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            lock (_measurements)
            {
                _measurements.Add((instrument.Name, value, tags.ToArray().ToDictionary(tag => tag.Key, tag => tag.Value)));
            }
        });
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _provider.Dispose();
    }

    [Fact]
    public void RecordCheck_CountsOneByCheckResultAndCell_OnTheCoherenceMeter()
    {
        var metrics = new CoherenceMetrics(_provider.GetRequiredService<IMeterFactory>());

        metrics.RecordCheck("ledger_reread", "missing", "b");
        metrics.RecordRound();

        var check = Assert.Single(_measurements, measurement => measurement.Instrument == CoherenceMetrics.ChecksName);
        Assert.Equal(1, check.Value);
        Assert.Equal("ledger_reread", check.Tags["check"]);
        Assert.Equal("missing", check.Tags["result"]);
        Assert.Equal("b", check.Tags["cell"]);
        Assert.Equal(1, Assert.Single(_measurements, measurement => measurement.Instrument == CoherenceMetrics.RoundsName).Value);
    }
}
