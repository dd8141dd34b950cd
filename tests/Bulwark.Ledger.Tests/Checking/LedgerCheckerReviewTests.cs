using System.Diagnostics;
using Bulwark.Ledger.Tests.Support;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Checking;

/// <summary>
/// Review finding: the runbook runs the checker against a ledger that is still writing ("safe while
/// the bank runs: it reads one consistent snapshot"). It read the accounts and the transfers in two
/// separate statements, so a batch committed between them was reported as damage — and the runbook
/// says to stop the bank on damage.
/// </summary>
public sealed class LedgerCheckerReviewTests
{
    private const int ChecksMax = 100;
    private const int TransfersMax = 3_000;

    [Fact]
    public async Task Check_WhileTheLedgerCommits_NeverReportsDamage()
    {
        await using var ledger = await StartAsync(inMemory: true);
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2);
        for (var i = 0; i < 50; i++)
        {
            await ledger.TransferOkAsync(100 + i, Id(1), Id(2), 1);
        }
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var committed = 0;
        var writer = Task.Run(async () =>
        {
            // One transfer per call, so every one is its own commit racing the checker.
            for (var i = 0; i < TransfersMax && !stop.IsCancellationRequested; i++)
            {
                await ledger.TransferOkAsync(1_000 + i, Id(1), Id(2), 1);
                Interlocked.Increment(ref committed);
            }
        });

        var clock = Stopwatch.StartNew();
        while (Volatile.Read(ref committed) < 10 && clock.Elapsed < TimeSpan.FromSeconds(10) && !writer.IsCompleted)
        {
            await Task.Delay(1);
        }
        var committedBefore = Volatile.Read(ref committed);
        var problems = new List<string>();
        clock.Restart();
        var checks = 0;
        for (; checks < ChecksMax && clock.Elapsed < TimeSpan.FromSeconds(5) && !writer.IsCompleted; checks++)
        {
            // On a thread of its own, as the checker runs in a process of its own beside the bank.
            var report = await Task.Factory.StartNew(() => LedgerChecker.Check(ledger.DatabasePath), TaskCreationOptions.LongRunning);
            problems.AddRange(report.Problems);
        }
        var committedWhileChecking = Volatile.Read(ref committed) - committedBefore;
        await stop.CancelAsync();
        await writer;

        Assert.True(committedWhileChecking > 0, $"the writer never committed while the checker ran ({committedBefore} before, {checks} checks in {clock.ElapsedMilliseconds} ms)");
        Assert.Empty(problems);
        Assert.True(LedgerChecker.Check(ledger.DatabasePath).Ok);
    }
}
