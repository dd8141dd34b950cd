using Bulwark.Ledger.Backup;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Tests.Cells;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Ledger.Tests.Backup;

/// <summary>
/// Backups of a ledger on two live cells (a owns the lower partitions, b the upper), with transfers
/// between them debited and delivered at chosen moments between the cells' copies: copied one after
/// another, as <c>bulwark backup</c> did, and copied from <see cref="LedgerCellsSnapshot"/>, as it does now.
/// </summary>
public sealed class LedgerCellsSnapshotTests
{
    private const int Partitions = LedgerLimits.PartitionCountDefault;
    private static readonly int[] LowerHalf = Enumerable.Range(0, Partitions / 2).ToArray();
    private static readonly int[] UpperHalf = Enumerable.Range(Partitions / 2, Partitions / 2).ToArray();

    [Fact]
    public async Task SequentialCopies_DebitedAfterBIsCopiedAndDeliveredBeforeAIs_LeaveACreditLegWithoutItsDebitLeg()
    {
        await using var live = await Bank.StartAsync();
        var (payer, payee) = await live.AccountsAsync();
        using var backup = new Copies();
        Copy(live.B.DatabasePath, backup.B);
        await live.SubmitAsync(live.B, 1, payer, payee, 1_460);
        Assert.Equal(1, await live.DeliveryOfB.DeliverOnceAsync(default));
        Copy(live.A.DatabasePath, backup.A);

        var check = backup.Check();

        Assert.False(check.Ok);
        Assert.Contains(check.Problems, problem => problem.Contains(Hex(1), StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Snapshot_DebitedAndDeliveredBetweenTheCopies_NeitherCopyHoldsItAndTheCheckPasses()
    {
        await using var live = await Bank.StartAsync();
        var (payer, payee) = await live.AccountsAsync();
        using var backup = new Copies();
        var (snapshot, _) = LedgerCellsSnapshot.Take([live.A.DatabasePath, live.B.DatabasePath], () => 0);
        using (snapshot)
        {
            snapshot.CopyTo(live.B.DatabasePath, backup.B);
            await live.SubmitAsync(live.B, 1, payer, payee, 1_460);
            Assert.Equal(1, await live.DeliveryOfB.DeliverOnceAsync(default));
            snapshot.CopyTo(live.A.DatabasePath, backup.A);
        }

        var check = backup.Check();

        Assert.True(check.Ok, string.Join(Environment.NewLine, check.Problems));
        Assert.Empty(Ids(backup.A, "SELECT hex(id) FROM transfers WHERE leg = 2").Concat(Ids(backup.B, "SELECT hex(id) FROM transfers")));
        Assert.Empty(Ids(backup.B, "SELECT hex(id) FROM credit_legs_owed"));
        Assert.True(live.Check().Ok);
    }

    [Fact]
    public async Task Snapshot_LegOwedAtTheMomentDeliveredBeforeTheCopies_IsOwedInTheCopyAndTheRestoredBankCreditsItOnce()
    {
        await using var live = await Bank.StartAsync();
        var (payer, payee) = await live.AccountsAsync();
        await live.SubmitAsync(live.B, 1, payer, payee, 1_460);
        using var backup = new Copies();
        var (snapshot, _) = LedgerCellsSnapshot.Take([live.A.DatabasePath, live.B.DatabasePath], () => 0);
        using (snapshot)
        {
            Assert.Equal(1, await live.DeliveryOfB.DeliverOnceAsync(default));
            snapshot.CopyTo(live.B.DatabasePath, backup.B);
            snapshot.CopyTo(live.A.DatabasePath, backup.A);
        }

        Assert.True(backup.Check().Ok, string.Join(Environment.NewLine, backup.Check().Problems));
        Assert.Equal([Hex(1)], Ids(backup.B, "SELECT hex(id) FROM credit_legs_owed WHERE state = 0"));
        Assert.Empty(Ids(backup.A, "SELECT hex(id) FROM transfers WHERE leg = 2"));
        Assert.Equal(0, CreditsPosted(backup.A, payee));

        await using var restored = await backup.StartAsync();
        Assert.Equal(1, await restored.DeliveryOfB.DeliverOnceAsync(default));
        Assert.Equal(0, await restored.DeliveryOfB.DeliverOnceAsync(default));
        Assert.Equal(1_460, (await restored.A.GetAccountAsync(payee)).CreditsPosted);
        Assert.True(LedgerChecker.CheckCells([LedgerCellSource.Sqlite(restored.A.DatabasePath), LedgerCellSource.Sqlite(restored.B.DatabasePath)]).Ok);
    }

    [Fact]
    public async Task Take_AWriterCommitsWhileTheCellsAreHeld_ItWaitsCommitsAfterwardsAndIsNotInTheCopy()
    {
        await using var live = await Bank.StartAsync();
        var (_, payee) = await live.AccountsAsync();
        var other = await live.A.AccountAsync((int)IdIn(5_000, upper: false));
        using var backup = new Copies();
        Task<LedgerTransferResult>? during = null;

        var (snapshot, completedWhileHeld) = LedgerCellsSnapshot.Take([live.A.DatabasePath, live.B.DatabasePath], () =>
        {
            during = live.A.SubmitAsync(TestLedger.Transfer(7, other, payee, 25));
            return during.IsCompleted;
        });
        using (snapshot)
        {
            snapshot.CopyTo(live.A.DatabasePath, backup.A);
        }

        Assert.False(completedWhileHeld);
        Assert.Equal(Protos.TransferStatus.Ok, (await during!).Status);
        Assert.Empty(Ids(backup.A, "SELECT hex(id) FROM transfers"));
        Assert.Equal(25, (await live.A.GetAccountAsync(payee)).CreditsPosted);
    }

    [Fact]
    public async Task Take_ACellHeldByAnotherWriterThroughEveryAttempt_FailsNamingItAndLeavesTheOtherCellsFree()
    {
        await using var live = await Bank.StartAsync();
        var (_, payee) = await live.AccountsAsync();
        var other = await live.A.AccountAsync((int)IdIn(5_000, upper: false));
        using var intruder = new SqliteConnection($"Data Source={live.B.DatabasePath};Pooling=False");
        intruder.Open();
        using (var begin = intruder.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            begin.ExecuteNonQuery();
        }
        var options = new LedgerSnapshotOptions { LockAllMilliseconds = 50, Attempts = 2, RetryPauseMilliseconds = 1 };

        var failure = Assert.Throws<IOException>(() => LedgerCellsSnapshot.Take([live.A.DatabasePath, live.B.DatabasePath], () => 0, options));

        Assert.Contains(live.B.DatabasePath, failure.Message, StringComparison.Ordinal);
        Assert.Equal(Protos.TransferStatus.Ok, (await live.A.SubmitAsync(TestLedger.Transfer(8, other, payee, 5))).Status);
    }

    private static int PartitionOf(UInt128 id) => LedgerPartitioner.PartitionOf(id, Partitions);

    private static UInt128 IdIn(int from, bool upper)
    {
        var id = (UInt128)from;
        while (PartitionOf(id) >= Partitions / 2 != upper)
        {
            id++;
        }
        return id;
    }

    /// <summary>Copies a live cell with SQLite's backup API on a connection of its own: a moment of its own.</summary>
    private static void Copy(string source, string target)
    {
        using var from = new SqliteConnection($"Data Source={source};Mode=ReadOnly;Pooling=False");
        using var to = new SqliteConnection($"Data Source={target};Pooling=False");
        from.Open();
        to.Open();
        from.BackupDatabase(to);
    }

    private static List<string> Ids(string cell, string query)
    {
        using var connection = new SqliteConnection($"Data Source={cell};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = query;
        using var reader = command.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    private static long CreditsPosted(string cell, UInt128 account)
    {
        using var connection = new SqliteConnection($"Data Source={cell};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT credits_posted FROM accounts WHERE hex(id) = '{Hex(account)}'";
        return (long)command.ExecuteScalar()!;
    }

    private static string Hex(UInt128 id) => id.ToString("X32", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A started two-cell ledger: a owns the lower partitions, b the upper; each with its delivery.</summary>
    private sealed class Bank : IAsyncDisposable
    {
        public Bank(TestLedger a, TestLedger b)
        {
            A = a;
            B = b;
            Peers = new InProcessCellPeers(Partitions, partition => partition < Partitions / 2 ? A.Engine : B.Engine);
            DeliveryOfA = new CreditLegDelivery(A.Engine, Peers, NullLogger<CreditLegDelivery>.Instance);
            DeliveryOfB = new CreditLegDelivery(B.Engine, Peers, NullLogger<CreditLegDelivery>.Instance);
        }

        public TestLedger A { get; }

        public TestLedger B { get; }

        public InProcessCellPeers Peers { get; }

        public CreditLegDelivery DeliveryOfA { get; }

        public CreditLegDelivery DeliveryOfB { get; }

        public static async Task<Bank> StartAsync(TempDirectory? a = null, TempDirectory? b = null) => new(
            await TestLedger.StartAsync(directory: a, partitions: Partitions, options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf }),
            await TestLedger.StartAsync(directory: b, partitions: Partitions, options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf }));

        /// <summary>An account in b (the payer, without a limit) and one in a (the payee).</summary>
        public async Task<(UInt128 Payer, UInt128 Payee)> AccountsAsync()
        {
            var payer = IdIn(1_000, upper: true);
            var payee = IdIn(2_000, upper: false);
            await B.AccountAsync((int)payer);
            await A.AccountAsync((int)payee);
            return (payer, payee);
        }

        public async Task SubmitAsync(TestLedger cell, int id, UInt128 debit, UInt128 credit, long amount)
        {
            var result = Assert.Single(await cell.Engine.SubmitAsync([TestLedger.Transfer(id, debit, credit, amount)], await Peers.FindAccountsAsync([credit], default)));
            Assert.Equal(Protos.TransferStatus.Ok, result.Status);
        }

        public LedgerCheckReport Check() => LedgerChecker.CheckCells([LedgerCellSource.Sqlite(A.DatabasePath), LedgerCellSource.Sqlite(B.DatabasePath)]);

        public async ValueTask DisposeAsync()
        {
            DeliveryOfA.Dispose();
            DeliveryOfB.Dispose();
            await A.DisposeAsync();
            await B.DisposeAsync();
        }
    }

    /// <summary>Copies of the two cells, each in a directory of its own as <c>ledger.db</c>, so that a bank can start on them.</summary>
    private sealed class Copies : IDisposable
    {
        private readonly TempDirectory _a = new();
        private readonly TempDirectory _b = new();

        public string A => _a.File("ledger.db");

        public string B => _b.File("ledger.db");

        public LedgerCheckReport Check() => LedgerChecker.CheckCells([LedgerCellSource.Sqlite(A), LedgerCellSource.Sqlite(B)]);

        /// <summary>Starts both cells on the copies (the directories stay this object's).</summary>
        public Task<Bank> StartAsync() => Bank.StartAsync(_a, _b);

        public void Dispose()
        {
            _a.Dispose();
            _b.Dispose();
        }
    }
}
