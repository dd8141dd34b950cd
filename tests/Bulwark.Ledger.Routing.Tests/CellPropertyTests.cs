using System.Globalization;
using Xunit.Abstractions;

namespace Bulwark.Ledger.Routing.Tests;

/// <summary>
/// Property: random interleavings of transfers, cross-cell sagas, holds, retries, reads, partition
/// moves killed at a step, cell restarts and credit legs delayed by a cell that is down keep every
/// invariant — every acknowledged transfer once (both legs), nothing refused, every balance as the
/// clients were told, every cell and the transit accounts summing to zero, each partition owned by
/// the one cell the map names, no false not-found, the ledger checker clean. Each seed draws one
/// schedule (<see cref="CellSchedule"/>); a failure names its seed, and
/// <c>BULWARK_PROPERTY_SEED=N</c> runs that seed alone. <c>BULWARK_PROPERTY_SEEDS=N</c> runs seeds
/// 1 to N (a soak) instead of the few the suite runs.
/// </summary>
public sealed class CellPropertyTests(ITestOutputHelper output)
{
    private static readonly int[] SuiteSeeds = [1, 2, 3, 4];

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        if (int.TryParse(Environment.GetEnvironmentVariable("BULWARK_PROPERTY_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var one))
        {
            data.Add(one);
        }
        else if (int.TryParse(Environment.GetEnvironmentVariable("BULWARK_PROPERTY_SEEDS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) && count > 0)
        {
            for (var seed = 1; seed <= count; seed++)
            {
                data.Add(seed);
            }
        }
        else
        {
            foreach (var seed in SuiteSeeds)
            {
                data.Add(seed);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task RandomSchedule_TransfersSagasHoldsRetriesMovesAndRestarts_KeepEveryInvariant(int seed)
    {
        var (failures, run) = await CellPropertyRun.RunAsync(seed);

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seed {seed}: {run.Statistics}"));
        Assert.True(failures.Count == 0, string.Create(CultureInfo.InvariantCulture,
            $"seed {seed} (reproduce: BULWARK_PROPERTY_SEED={seed}) broke {failures.Count} invariants:\n{string.Join("\n", failures)}\nschedule:\n{string.Join("\n", run.Schedule)}\nwhat ran: {run.Statistics}"));
    }
}
