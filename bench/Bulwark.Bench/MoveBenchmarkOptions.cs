namespace Bulwark.Bench;

/// <summary>What <c>bulwark bench move</c> does. Defaults: a partition of 100,000 transfers, 200 background payments/s.</summary>
public sealed record MoveBenchmarkOptions
{
    /// <summary>The write pause the issue asks for (from the pause to the target owning the partition).</summary>
    public const double PauseTargetMilliseconds = 200;

    /// <summary>Transfer rows the moving partition holds before the move (built through the router, a thousand per call).</summary>
    public int Transfers { get; init; } = 100_000;

    /// <summary>Accounts in the moving partition; the partition's transfers move money between them (and a few with the other cell).</summary>
    public int PartitionAccounts { get; init; } = 100;

    /// <summary>Background payments per second, one transfer per call, during the whole move: a quarter inside the moving partition, a quarter between it and elsewhere, half elsewhere.</summary>
    public double Rate { get; init; } = 200;

    /// <summary>Background workers sending those payments, each one call at a time.</summary>
    public int Workers { get; init; } = 4;

    /// <summary>Background load before the move starts, and after it ends.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Where the run's directory (the map and the cells' files) goes; in the temporary directory, deleted afterwards, when null.</summary>
    public string? DataDirectory { get; init; }

    public int Seed { get; init; } = 42;

    public void Validate()
    {
        if (Transfers < 1 || PartitionAccounts < 2 || Workers < 1 || Rate <= 0 || Settle < TimeSpan.Zero)
        {
            throw new ArgumentException("Transfers, Workers and Rate must be positive, PartitionAccounts at least 2, Settle not negative.");
        }
    }
}

/// <summary>One move's figures. Times in milliseconds; the background calls' latency from send to answer (router retries included).</summary>
public sealed record MoveBenchmarkResult(
    DateTimeOffset StartedAt,
    int ProcessorCount,
    string Runtime,
    string StoreVersion,
    int Partition,
    string Source,
    string Target,
    long TransfersBuilt,
    double BuildSeconds,
    long AccountsMoved,
    long TransferRowsMoved,
    double MoveTotalMilliseconds,
    double CopyMilliseconds,
    double PauseToReleasedMilliseconds,
    double PauseToOwnedMilliseconds,
    double PauseToMapMilliseconds,
    double DropCopyMilliseconds,
    long BackgroundCalls,
    long BackgroundCallsOnPartition,
    long FailedCalls,
    long RetriableRefusals,
    double BackgroundP50Milliseconds,
    double BackgroundP99Milliseconds,
    double BackgroundMaxMilliseconds,
    double PartitionMaxMillisecondsDuringMove,
    double ElsewhereMaxMillisecondsDuringMove,
    double ProcessCpuSeconds,
    string? LoadAverageBefore,
    string? LoadAverageAfter,
    bool MoneyConserved,
    long TransitNet,
    bool CheckerOk)
{
    /// <summary>Partition refusals the router received from the cells and absorbed by sending again (MOVING while paused, NOT_OWNER after the release), by reason.</summary>
    public IReadOnlyDictionary<string, long> RouterRefusals { get; init; } = new Dictionary<string, long>();

    public double PauseTargetMilliseconds => MoveBenchmarkOptions.PauseTargetMilliseconds;

    /// <summary>The goal: a pause under 200 ms and no failed call.</summary>
    public bool GoalMet => PauseToOwnedMilliseconds < PauseTargetMilliseconds && FailedCalls == 0;
}
