using System.Diagnostics.Metrics;
using Bulwark.EventLog.Files;
using Bulwark.EventLog.Tests.Fixtures;

namespace Bulwark.EventLog.Tests;

public sealed class EventLogMetricsTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly MeterListener _listener = new();
    private readonly EventLogMetrics _metrics = new();
    private readonly Dictionary<string, long> _totals = [];

    public EventLogMetricsTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Tests in this assembly run one at a time (xunit.runner.json), and the others pass no metrics.
            if (instrument.Meter.Name == EventLogMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var key = instrument.Name;
            foreach (var tag in tags)
            {
                if (tag.Key == "reason")
                {
                    key += ":" + tag.Value;
                }
            }
            lock (_totals)
            {
                _totals[key] = _totals.GetValueOrDefault(key) + value;
            }
        });
        _listener.Start();
    }

    private long Total(string key)
    {
        lock (_totals)
        {
            return _totals.GetValueOrDefault(key);
        }
    }

    [Fact]
    public async Task FileLog_AppendsRepeatsAndRefusals_CountedByKindAndReason()
    {
        await using var log = FileEventLog.Open(new FileEventLogOptions { Directory = _directory.Path }, metrics: _metrics);
        var records = Records.Range(1, 1, 3);

        await log.AppendAsync(records);
        await log.AppendAsync(Records.Range(1, 3, 4));
        await Assert.ThrowsAsync<EventLogException>(() => log.AppendAsync([Records.Make(1, 9)]));
        await Assert.ThrowsAsync<EventLogException>(() => log.AppendAsync([Records.Make(1, 2, body: "-other")]));

        Assert.Equal(2, Total("bulwark.event_log.appends"));
        Assert.Equal(4, Total("bulwark.event_log.records"));
        Assert.Equal(1, Total("bulwark.event_log.duplicates"));
        Assert.Equal(records.Sum(RecordFrame.EncodedLength) + RecordFrame.EncodedLength(Records.Make(1, 4)), Total("bulwark.event_log.bytes"));
        Assert.Equal(1, Total("bulwark.event_log.errors:gap"));
        Assert.Equal(1, Total("bulwark.event_log.errors:conflict"));
        Assert.True(Total("bulwark.event_log.syncs") >= 1);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _metrics.Dispose();
        _directory.Dispose();
    }
}
