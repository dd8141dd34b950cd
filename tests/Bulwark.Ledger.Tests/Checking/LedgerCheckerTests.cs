using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Data.Sqlite;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Checking;

/// <summary>The checker is only worth something if it catches a broken ledger: each test breaks one on purpose.</summary>
public sealed class LedgerCheckerTests
{
    private static async Task<string> HealthyLedgerAsync(TempDirectory directory)
    {
        await using var ledger = await StartAsync(directory: directory);
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2, AccountFlags.DebitsMustNotExceedCredits);
        await ledger.AccountAsync(3);
        await ledger.TransferOkAsync(10, Id(1), Id(2), 1_000);
        await ledger.TransferOkAsync(11, Id(2), Id(3), 300, TransferFlags.Pending);
        await ledger.SubmitAsync(Post(12, 11, 200));
        await ledger.TransferOkAsync(13, Id(2), Id(3), 100, TransferFlags.Pending);
        await ledger.SubmitAsync(Void(14, 13));
        await ledger.TransferOkAsync(15, Id(2), Id(3), 50, TransferFlags.Pending);
        return ledger.DatabasePath;
    }

    private static void Execute(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        Assert.Equal(1, command.ExecuteNonQuery());
    }

    private const string Account2 = "X'00000000000000000000000000000002'";

    [Fact]
    public async Task Check_HealthyLedger_Ok()
    {
        using var directory = new TempDirectory();
        var path = await HealthyLedgerAsync(directory);

        var report = LedgerChecker.Check(path);

        Assert.True(report.Ok, string.Join("\n", report.Problems));
        Assert.Equal(3, report.AccountCount);
        Assert.Equal(6, report.TransferCount);
    }

    [Fact]
    public async Task Check_BalanceEditedByHand_ReportsSumAndAccount()
    {
        using var directory = new TempDirectory();
        var path = await HealthyLedgerAsync(directory);
        Execute(path, $"UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = {Account2}");

        var report = LedgerChecker.Check(path);

        Assert.False(report.Ok);
        Assert.Contains(report.Problems, p => p.Contains("00000000000000000000000000000002 stores credits_posted 1001 but its transfers sum to 1000", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.StartsWith("posted balances do not sum to zero", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_PendingBalanceEditedByHand_Reported()
    {
        using var directory = new TempDirectory();
        var path = await HealthyLedgerAsync(directory);
        Execute(path, $"UPDATE accounts SET debits_pending = 0 WHERE id = {Account2}");

        var report = LedgerChecker.Check(path);

        Assert.Contains(report.Problems, p => p.Contains("debits_pending 0 but its transfers sum to 50", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.StartsWith("pending balances do not sum to zero", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_PostTransferDeleted_ReportsHoldWithoutItsPost()
    {
        using var directory = new TempDirectory();
        var path = await HealthyLedgerAsync(directory);
        Execute(path, "DELETE FROM transfers WHERE id = X'0000000000000000000000000000000C'");

        var report = LedgerChecker.Check(path);

        Assert.Contains(report.Problems, p => p == "hold 0000000000000000000000000000000b is HoldPosted but no post or void transfer names it");
    }

    [Fact]
    public async Task Check_HoldDeleted_ReportsVoidNamingMissingHold()
    {
        using var directory = new TempDirectory();
        var path = await HealthyLedgerAsync(directory);
        Execute(path, "DELETE FROM transfers WHERE id = X'0000000000000000000000000000000D'");

        var report = LedgerChecker.Check(path);

        Assert.Contains(report.Problems, p => p == "void 0000000000000000000000000000000e names hold 0000000000000000000000000000000d, which does not exist");
    }

    [Fact]
    public async Task Check_HoldStateEditedByHand_Reported()
    {
        using var directory = new TempDirectory();
        var path = await HealthyLedgerAsync(directory);
        Execute(path, "UPDATE transfers SET state = 2 WHERE id = X'0000000000000000000000000000000D'");

        var report = LedgerChecker.Check(path);

        Assert.Contains(report.Problems, p => p.StartsWith("hold 0000000000000000000000000000000d is Pending but void", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_NoDatabase_FileNotFound()
    {
        using var directory = new TempDirectory();

        Assert.Throws<FileNotFoundException>(() => LedgerChecker.Check(directory.File("missing.db")));
    }
}
