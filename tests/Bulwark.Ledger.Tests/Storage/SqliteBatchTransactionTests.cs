using System.Diagnostics;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Storage;

/// <summary>
/// The SQLite store runs a batch's lookups and writes in one transaction, opened at the batch's
/// first lookup. Whatever the batch's outcome — rows written, nothing to write, or a failed
/// commit — that transaction must end with the batch: left open, it would hold the write lock and
/// pin the WAL (no checkpoint could finish) while the ledger sits idle.
/// </summary>
public sealed class SqliteBatchTransactionTests
{
    [Fact]
    public async Task BatchOfDuplicatesOnly_WritesNothing_AndLeavesNoTransactionOpen()
    {
        await using var ledger = await StartAsync();
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2);
        await ledger.TransferOkAsync(10, Id(1), Id(2), 5);

        var again = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5));

        Assert.True(again.Duplicate);
        Assert.True(WriteLockIsFree(ledger.DatabasePath), "the writer still holds the transaction of a batch that wrote nothing");
    }

    [Fact]
    public async Task FailedCommit_LeavesNoTransactionOpen_AndTheNextBatchCommits()
    {
        HookedStore? hooked = null;
        await using var ledger = await StartAsync(wrapStore: inner => hooked = new HookedStore(inner));
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2);
        hooked!.BeforeCommit = _ => throw new IOException("disk full");

        await Assert.ThrowsAsync<LedgerUnavailableException>(() => ledger.Engine.SubmitAsync([Transfer(10, Id(1), Id(2), 5)]));
        hooked.BeforeCommit = null;

        // The caller hears of the failure before the writer reloads (which ends the transaction).
        var clock = Stopwatch.StartNew();
        var free = WriteLockIsFree(ledger.DatabasePath);
        while (!free && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(10);
            free = WriteLockIsFree(ledger.DatabasePath);
        }
        Assert.True(free, "the writer still holds the transaction of a failed batch");
        await ledger.TransferOkAsync(11, Id(1), Id(2), 7);
        Assert.Equal(7, (await ledger.GetAccountAsync(Id(2))).CreditsPosted);
        Assert.True(ledger.Check().Ok);
    }

    /// <summary>Whether another connection can take the write lock at once (no busy wait).</summary>
    private static bool WriteLockIsFree(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        var database = connection.Handle!;
        raw.sqlite3_busy_timeout(database, 0);
        var result = raw.sqlite3_exec(database, "BEGIN IMMEDIATE");
        if (result == raw.SQLITE_OK)
        {
            raw.sqlite3_exec(database, "ROLLBACK");
            return true;
        }
        Assert.Equal(raw.SQLITE_BUSY, result);
        return false;
    }
}
