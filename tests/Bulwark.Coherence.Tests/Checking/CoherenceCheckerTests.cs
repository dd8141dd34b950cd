using Bulwark.Coherence.Checking;
using Bulwark.Coherence.Synthetic;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Coherence.Tests.Checking;

/// <summary>The checker against real cells, the real router and the real feed.</summary>
public sealed class CoherenceCheckerTests
{
    private static readonly string[] ThreeCells = ["a", "b", "c"];

    [Fact]
    public async Task RunRound_EveryCellUp_EveryCheckPassesInEveryCell()
    {
        await using var bank = await CoherenceBank.StartAsync(ThreeCells);

        var first = await bank.RoundAsync();
        var second = await bank.RoundAsync();

        Assert.All(first.Concat(second), outcome => Assert.True(outcome.Passed, $"{outcome.Cell} {outcome.Check}: {outcome.Result} {outcome.Detail}"));
        foreach (var cell in ThreeCells)
        {
            // The first round left a write in each cell that the second reads again.
            Assert.Equal(CoherenceCheck.All.Order(StringComparer.Ordinal), second.Where(outcome => outcome.Cell == cell).Select(outcome => outcome.Check).Order(StringComparer.Ordinal));
            Assert.Equal(2, bank.Checks[$"{CoherenceCheck.LedgerWrite}/{CoherenceResult.Ok}/{cell}"]);
            Assert.Equal(2, bank.Checks[$"{CoherenceCheck.FeedRead}/{CoherenceResult.Ok}/{cell}"]);
            Assert.Equal(2, bank.Checks[$"{CoherenceCheck.AppRead}/{CoherenceResult.Ok}/{cell}"]);
        }
        // Each cell's synthetic account is in a partition the cell owns.
        Assert.All(second, outcome => Assert.Equal(outcome.Cell, bank.Map.CellOf(outcome.Partition)));
        Assert.All(second, outcome => Assert.True(SyntheticAccounts.IsSynthetic(outcome.AccountId)));
        Assert.Equal(0, bank.Status.Failed);
    }

    [Fact]
    public async Task RunRound_OneCellDown_OnlyThatCellsChecksFail_AndTheCheckerGoesOn()
    {
        await using var bank = await CoherenceBank.StartAsync(ThreeCells);
        Assert.All(await bank.RoundAsync(), outcome => Assert.True(outcome.Passed, $"{outcome.Cell} {outcome.Check}: {outcome.Result} {outcome.Detail}"));
        await bank.StopCellAsync("b");

        var down = await bank.RoundAsync();

        var ofB = down.Where(outcome => outcome.Cell == "b").ToList();
        Assert.NotEmpty(ofB);
        Assert.All(ofB, outcome => Assert.Contains(outcome.Result, new[] { CoherenceResult.Error, CoherenceResult.Timeout }));
        Assert.All(down.Where(outcome => outcome.Cell != "b"), outcome => Assert.True(outcome.Passed, $"{outcome.Cell} {outcome.Check}: {outcome.Result} {outcome.Detail}"));
        Assert.Equal(CoherenceCheck.All.Count, down.Count(outcome => outcome.Cell == "a"));
        Assert.Equal(CoherenceCheck.All.Count, down.Count(outcome => outcome.Cell == "c"));
        Assert.Equal(0, bank.Status.Missing);
        Assert.DoesNotContain(bank.Checks, entry => entry.Key.EndsWith("/a", StringComparison.Ordinal) && !entry.Key.Contains("/ok/", StringComparison.Ordinal));

        await bank.StartCellAsync("b");
        var again = await bank.RoundAsync();

        Assert.All(again.Where(outcome => outcome.Cell == "b" && outcome.Check != CoherenceCheck.LedgerReread),
            outcome => Assert.True(outcome.Passed, $"{outcome.Check}: {outcome.Result} {outcome.Detail}"));
    }

    [Fact]
    public async Task RunRound_OneCellHangs_ItsChecksTimeOutWithinTheBudget_TheOtherCellsPass()
    {
        await using var bank = await CoherenceBank.StartAsync(ThreeCells, cellBudget: TimeSpan.FromSeconds(2));
        await using (await bank.HangCellAsync("b"))
        {
            var hung = await bank.RoundAsync();

            var ofB = hung.Where(outcome => outcome.Cell == "b").ToList();
            Assert.NotEmpty(ofB);
            // The peer accepted and said nothing: no answer, no refusal, only the budget ends the wait.
            Assert.Contains(ofB, outcome => outcome.Result == CoherenceResult.Timeout);
            Assert.All(ofB, outcome => Assert.False(outcome.Passed));
            Assert.Equal(0, bank.Status.Missing);
            Assert.True(bank.Checks.GetValueOrDefault($"{CoherenceCheck.LedgerWrite}/{CoherenceResult.Timeout}/b") >= 1,
                string.Join(", ", bank.Checks.Keys));
        }
    }

    [Fact]
    public async Task RunRound_CellRestoredFromABackupOlderThanAnAcknowledgedWrite_MissingIsCountedAndLoggedWithCellPartitionAndIds()
    {
        await using var bank = await CoherenceBank.StartAsync(ThreeCells);
        await bank.StopCellAsync("b");
        bank.CopyStore("b", "b-backup.db");
        await bank.StartCellAsync("b");
        var acknowledged = (await bank.RoundAsync()).Single(outcome => outcome.Cell == "b" && outcome.Check == CoherenceCheck.LedgerWrite);
        Assert.True(acknowledged.Passed, acknowledged.Detail);

        // Incident B in small: the cell comes back on a store that does not hold what it acknowledged.
        await bank.StopCellAsync("b");
        bank.RestoreStore("b", "b-backup.db");
        await bank.StartCellAsync("b");
        var after = await bank.RoundAsync();

        var reread = after.Single(outcome => outcome.Cell == "b" && outcome.Check == CoherenceCheck.LedgerReread);
        Assert.Equal(CoherenceResult.Missing, reread.Result);
        Assert.Equal(acknowledged.TransferId, reread.TransferId);
        Assert.Equal(acknowledged.Partition, reread.Partition);
        Assert.Equal(1, bank.Checks[$"{CoherenceCheck.LedgerReread}/{CoherenceResult.Missing}/b"]);
        Assert.Equal(1, bank.Status.Missing);
        Assert.All(after.Where(outcome => outcome.Cell != "b"), outcome => Assert.True(outcome.Passed, $"{outcome.Cell} {outcome.Check}: {outcome.Result}"));
        var line = Assert.Single(bank.Logs, log => log.EventId.Id == 9101);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, line.Level);
        Assert.Contains("in cell b", line.Message, StringComparison.Ordinal);
        Assert.Contains($"partition {acknowledged.Partition}", line.Message, StringComparison.Ordinal);
        Assert.Contains(acknowledged.TransferId.ToString("x32", System.Globalization.CultureInfo.InvariantCulture), line.Message, StringComparison.Ordinal);
        Assert.Contains(acknowledged.AccountId.ToString("x32", System.Globalization.CultureInfo.InvariantCulture), line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunRound_PartitionMovedToAnotherCell_ItsWriteIsStillReadAndItsChecksFollowItToTheNewCell()
    {
        await using var bank = await CoherenceBank.StartAsync(["a", "b"]);
        var written = (await bank.RoundAsync()).Single(outcome => outcome.Cell == "a" && outcome.Check == CoherenceCheck.LedgerWrite);
        Assert.True(written.Passed, written.Detail);

        await bank.MoveAsync(written.Partition, "b");
        List<CheckOutcome> after = [];
        for (var round = 0; round < CoherenceBank.Partitions; round++)
        {
            after.AddRange(await bank.RoundAsync());
        }

        Assert.All(after, outcome => Assert.True(outcome.Passed, $"{outcome.Cell} {outcome.Check} partition {outcome.Partition}: {outcome.Result} {outcome.Detail}"));
        // The write made in a before the move is read again after it, from b, where the partition now is.
        var reread = after.First(outcome => outcome.Cell == "a" && outcome.Check == CoherenceCheck.LedgerReread);
        Assert.Equal(written.TransferId, reread.TransferId);
        // From then on the partition's synthetic accounts are checked as b's, never as a's.
        Assert.DoesNotContain(after, outcome => outcome.Cell == "a" && outcome.Check == CoherenceCheck.LedgerWrite && outcome.Partition == written.Partition);
        Assert.Contains(after, outcome => outcome.Cell == "b" && outcome.Check == CoherenceCheck.FeedRead && outcome.Partition == written.Partition);
    }

    [Fact]
    public async Task RunRound_ABankWideCheckThrows_CountedAsItsRoundError_TheCellsAreCheckedAndTheNextRoundRuns()
    {
        await using var bank = await CoherenceBank.StartAsync(["a", "b"], services: services => services.AddSingleton<IBankWideCheck, ThrowingCheck>());

        var first = await bank.RoundAsync();
        var second = await bank.RoundAsync();

        foreach (var round in new[] { first, second })
        {
            var broken = Assert.Single(round, outcome => outcome.Check == CoherenceCheck.Round);
            Assert.Equal((nameof(ThrowingCheck), CoherenceResult.Error), (broken.Cell, broken.Result));
            Assert.All(round.Where(outcome => outcome.Cell is "a" or "b"), outcome => Assert.True(outcome.Passed, $"{outcome.Cell} {outcome.Check}: {outcome.Result}"));
        }
        Assert.Equal(2, bank.Checks[$"{CoherenceCheck.Round}/{CoherenceResult.Error}/{nameof(ThrowingCheck)}"]);
        Assert.Equal(2, bank.Logs.Count(log => log.EventId.Id == 9112));
    }

    /// <summary>A bank-wide check with a bug.</summary>
    private sealed class ThrowingCheck : IBankWideCheck
    {
        public Task<IReadOnlyList<CheckOutcome>> RunAsync(CancellationToken budget) => throw new InvalidOperationException("a bug in a check");
    }

    [Fact]
    public async Task SyntheticTraffic_ManyRounds_LedgerCheckStaysZeroSum()
    {
        await using var bank = await CoherenceBank.StartAsync(ThreeCells);
        var written = 0;
        for (var round = 0; round < 5; round++)
        {
            var outcomes = await bank.RoundAsync();
            // A loaded machine times a check out now and then; never may a read miss an acknowledged write.
            Assert.DoesNotContain(outcomes, outcome => outcome.Result == CoherenceResult.Missing);
            written += outcomes.Count(outcome => outcome.Check == CoherenceCheck.LedgerWrite && outcome.Passed);
        }

        var check = await bank.StopAndCheckAsync();

        Assert.True(check.Ok, string.Join("; ", check.Problems));
        Assert.InRange(written, 1, 15);
        // At most one transfer per cell and round (a write timed out may still have committed), each
        // whole inside its partition: no credit leg between cells, and the ledger sums to zero.
        Assert.InRange(check.TransferCount, written, 15);
    }
}
