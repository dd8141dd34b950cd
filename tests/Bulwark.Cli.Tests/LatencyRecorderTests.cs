using Bulwark.Cli.Workload;

namespace Bulwark.Cli.Tests;

public sealed class LatencyRecorderTests
{
    [Fact]
    public void Record_ByOperation_KeepsEachOperationsOwnPercentilesAndOutcomes()
    {
        var recorder = new LatencyRecorder();
        for (var i = 1; i <= 100; i++)
        {
            recorder.Record(Operation.Payment, Outcome.Ok, TimeSpan.FromMilliseconds(i));
        }
        recorder.Record(Operation.FeedRead, Outcome.Declined, TimeSpan.FromMilliseconds(500));
        recorder.Record(Operation.FeedRead, Outcome.Error, TimeSpan.FromMinutes(5));

        Assert.Equal(100, recorder.Total(Operation.Payment).Count);
        Assert.InRange(recorder.Total(Operation.Payment).P50Milliseconds, 49.9, 50.1);
        Assert.Equal(0, recorder.Total(Operation.PotMove).Count);
        Assert.Equal(2, recorder.Total(Operation.FeedRead).Count);
        Assert.Equal(102, recorder.Total().Count);
        Assert.Equal((100, 1, 1), (recorder.Ok, recorder.Declined, recorder.Errors));
        // Beyond the histogram's range a latency is clamped to the maximum, never lost or thrown.
        Assert.InRange(recorder.Total().MaxMilliseconds, 59_000, 61_000);
    }

    [Fact]
    public void TakeInterval_StartsANewIntervalButKeepsTheTotal()
    {
        var recorder = new LatencyRecorder();
        recorder.Record(Operation.PotMove, Outcome.Ok, TimeSpan.FromMilliseconds(3));

        Assert.Equal(1, recorder.TakeInterval().Count);
        Assert.Equal(0, recorder.TakeInterval().Count);
        Assert.Equal(1, recorder.Total().Count);
    }
}
