using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Tests.Cells;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Ledger.Tests.Checking;

/// <summary>
/// Backups of a ledger on two cells, copied one after another as <c>bulwark backup</c> does (the
/// cell in <c>ledger-b.db</c> first, then cell a in <c>ledger.db</c>), with credit legs delivered
/// between the two copies at chosen moments: what the copies hold, what <see cref="LedgerCellRepair"/>
/// makes of them, and what a bank started on them holds once it has delivered what they owe.
/// </summary>
public sealed class LedgerCellRepairTests
{
    private const int Partitions = LedgerLimits.PartitionCountDefault;
    private static readonly int[] LowerHalf = Enumerable.Range(0, Partitions / 2).ToArray();
    private static readonly int[] UpperHalf = Enumerable.Range(Partitions / 2, Partitions / 2).ToArray();

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

    [Fact]
    public async Task Backup_LegOwedWhenTheDebitCellIsCopiedDeliveredBeforeTheCreditCellIs_CreditCopyHoldsItAndTheRestoredBankCreditsItOnce()
    {
        await using var live = await Bank.StartAsync();
        var (payer, payee) = await live.AccountsAsync();
        // Owed by b when b is copied; delivered to a before a is copied.
        await live.SubmitAsync(live.B, 1, payer, payee, 1_460);
        using var backup = new Backup();
        backup.CopyCellB(live);
        Assert.Equal(1, await live.DeliveryOfB.DeliverOnceAsync(default));
        backup.CopyCellA(live);

        Assert.Equal(0, backup.Repair());
        Assert.True(backup.Check().Ok, string.Join(Environment.NewLine, backup.Check().Problems));
        // Both copies name the leg: b's still owes it, a's already holds its credit row.
        Assert.Equal([Hex((UInt128)1)], backup.OwedLegs(backup.B).Select(leg => leg.Id));
        Assert.Equal([Hex((UInt128)1)], backup.CreditLegs(backup.A));
        var atBackup = Balances(backup.A, backup.B);
        // What the backup-under-load test expected until now: every owed leg added to the backup's
        // balances, this one too, although a's copy already holds it.
        var everyOwedLegAdded = WithLegsDelivered(atBackup, backup.OwedLegs(backup.B));

        var restored = await backup.RestoreAndDeliverAsync();

        var payeeHex = Hex(payee);
        Assert.Equal(1_460L, restored[payeeHex][3]);
        Assert.Equal(2 * 1_460L, everyOwedLegAdded[payeeHex][3]);
        Assert.Equal(Render(backup.ExpectedAfterDelivery()), Render(restored));
        Assert.Equal(Render(atBackup), Render(restored));
    }

    [Fact]
    public async Task Backup_LegDeliveredAfterTheCreditCellIsCopiedAndSettledBeforeTheDebitCellIs_ReopenedAndTheRestoredBankCreditsItOnce()
    {
        await using var live = await Bank.StartAsync();
        var (payer, payee) = await live.AccountsAsync();
        var payerInA = IdIn(3_000, upper: false);
        var payeeInB = IdIn(4_000, upper: true);
        await live.A.AccountAsync((int)payerInA);
        await live.B.AccountAsync((int)payeeInB);
        // Owed by a when b is copied; delivered to b, and settled in a, before a is copied.
        await live.SubmitAsync(live.A, 1, payerInA, payeeInB, 700);
        // Owed by b when b is copied; delivered only after a is copied.
        await live.SubmitAsync(live.B, 2, payer, payee, 300);
        using var backup = new Backup();
        backup.CopyCellB(live);
        Assert.Equal(1, await live.DeliveryOfA.DeliverOnceAsync(default));
        backup.CopyCellA(live);

        Assert.Empty(backup.OwedLegs(backup.A));
        Assert.Equal(1, backup.Repair());
        // The reopening is in the database file itself: a backup's manifest lists (and a restore
        // copies) the database files alone, never their -wal.
        Assert.True(!File.Exists(backup.A + "-wal") || new FileInfo(backup.A + "-wal").Length == 0, "the reopened leg is only in ledger.db-wal");
        Assert.True(backup.Check().Ok, string.Join(Environment.NewLine, backup.Check().Problems));
        Assert.Equal([Hex((UInt128)1)], backup.OwedLegs(backup.A).Select(leg => leg.Id));
        Assert.Equal([Hex((UInt128)2)], backup.OwedLegs(backup.B).Select(leg => leg.Id));
        Assert.Empty(backup.CreditLegs(backup.A).Concat(backup.CreditLegs(backup.B)));

        var restored = await backup.RestoreAndDeliverAsync();

        Assert.Equal(700L, restored[Hex(payeeInB)][3]);
        Assert.Equal(300L, restored[Hex(payee)][3]);
        Assert.Equal(Render(backup.ExpectedAfterDelivery()), Render(restored));
    }

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

        public static async Task<Bank> StartAsync() => new(
            await TestLedger.StartAsync(partitions: Partitions, options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf }),
            await TestLedger.StartAsync(partitions: Partitions, options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf }));

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

        public async ValueTask DisposeAsync()
        {
            DeliveryOfA.Dispose();
            DeliveryOfB.Dispose();
            await A.DisposeAsync();
            await B.DisposeAsync();
        }
    }

    /// <summary>Copies of the two cells, taken with SQLite's backup API from the live files, as <c>bulwark backup</c> takes them.</summary>
    private sealed class Backup : IDisposable
    {
        private readonly TempDirectory _a = new();
        private readonly TempDirectory _b = new();

        public string A => _a.File("ledger.db");

        public string B => _b.File("ledger.db");

        public void CopyCellA(Bank live) => Copy(live.A.DatabasePath, A);

        public void CopyCellB(Bank live) => Copy(live.B.DatabasePath, B);

        public int Repair() => LedgerCellRepair.ReopenLegsNotDelivered([LedgerCellSource.Sqlite(B), LedgerCellSource.Sqlite(A)]);

        public LedgerCheckReport Check() => LedgerChecker.CheckCells([LedgerCellSource.Sqlite(A), LedgerCellSource.Sqlite(B)]);

        /// <summary>The credit legs <paramref name="cell"/> owes (not delivered), by transfer id.</summary>
        public List<OwedLeg> OwedLegs(string cell)
        {
            using var connection = OpenReadOnly(cell);
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT hex(id), hex(credit_account_id), credit_partition, currency, amount FROM credit_legs_owed WHERE state = 0 ORDER BY id";
            using var reader = command.ExecuteReader();
            var legs = new List<OwedLeg>();
            while (reader.Read())
            {
                legs.Add(new(reader.GetString(0), reader.GetString(1), Hex(TransitAccounts.IdOf((int)reader.GetInt64(2), reader.GetString(3), Partitions)), reader.GetInt64(4)));
            }
            return legs;
        }

        /// <summary>The ids of the credit legs written in <paramref name="cell"/>.</summary>
        public List<string> CreditLegs(string cell)
        {
            using var connection = OpenReadOnly(cell);
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT hex(id) FROM transfers WHERE leg = 2 ORDER BY id";
            using var reader = command.ExecuteReader();
            var ids = new List<string>();
            while (reader.Read())
            {
                ids.Add(reader.GetString(0));
            }
            return ids;
        }

        /// <summary>
        /// The copies' balances once what they owe is delivered: the legs owed in either copy whose
        /// credit row neither copy holds (a leg owed in one copy and already in the other is
        /// answered duplicate by its redelivery, and moves nothing).
        /// </summary>
        public SortedDictionary<string, long[]> ExpectedAfterDelivery()
        {
            var credited = CreditLegs(A).Concat(CreditLegs(B)).ToHashSet();
            var legs = OwedLegs(A).Concat(OwedLegs(B)).Where(leg => !credited.Contains(leg.Id));
            return WithLegsDelivered(Balances(A, B), legs);
        }

        public void Dispose()
        {
            _a.Dispose();
            _b.Dispose();
        }

        /// <summary>
        /// Starts both cells on copies of the copies' database files alone, as <c>bulwark restore</c>
        /// copies the files its manifest lists (no -wal), delivers everything they owe, and returns their balances.
        /// </summary>
        public async Task<SortedDictionary<string, long[]>> RestoreAndDeliverAsync()
        {
            using var directoryA = new TempDirectory();
            using var directoryB = new TempDirectory();
            File.Copy(A, directoryA.File("ledger.db"));
            File.Copy(B, directoryB.File("ledger.db"));
            await using (var restored = await RestoredBankAsync(directoryA, directoryB))
            {
                while (await restored.DeliveryOfA.DeliverOnceAsync(default) + await restored.DeliveryOfB.DeliverOnceAsync(default) > 0)
                {
                }
                Assert.Empty(await restored.A.Engine.GetOwedCreditLegsAsync(10, default));
                Assert.Empty(await restored.B.Engine.GetOwedCreditLegsAsync(10, default));
                var check = LedgerChecker.CheckCells([LedgerCellSource.Sqlite(restored.A.DatabasePath), LedgerCellSource.Sqlite(restored.B.DatabasePath)]);
                Assert.True(check.Ok, string.Join(Environment.NewLine, check.Problems));
            }
            return Balances(directoryA.File("ledger.db"), directoryB.File("ledger.db"));
        }

        private static async Task<Bank> RestoredBankAsync(TempDirectory a, TempDirectory b)
        {
            var cellA = await TestLedger.StartAsync(directory: a, partitions: Partitions, options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf });
            var cellB = await TestLedger.StartAsync(directory: b, partitions: Partitions, options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });
            return new Bank(cellA, cellB);
        }

        private static void Copy(string source, string target)
        {
            using var from = new SqliteConnection($"Data Source={source};Mode=ReadOnly;Pooling=False");
            using var to = new SqliteConnection($"Data Source={target};Pooling=False");
            from.Open();
            to.Open();
            from.BackupDatabase(to);
        }
    }

    private static SqliteConnection OpenReadOnly(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        return connection;
    }

    /// <summary>Every account's four balances (debits pending, debits posted, credits pending, credits posted) in the cells, by id.</summary>
    private static SortedDictionary<string, long[]> Balances(params string[] cells)
    {
        var balances = new SortedDictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var cell in cells)
        {
            using var connection = OpenReadOnly(cell);
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT hex(id), debits_pending, debits_posted, credits_pending, credits_posted FROM accounts";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                balances[reader.GetString(0)] = [reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)];
            }
        }
        return balances;
    }

    /// <summary>A credit leg owed in a copy: its transfer, the account it credits, the transit account it debits, how much (hex ids).</summary>
    private sealed record OwedLeg(string Id, string Credit, string Transit, long Amount);

    /// <summary><paramref name="balances"/> with <paramref name="legs"/> delivered: each credit account credited, its partition's transit debited.</summary>
    private static SortedDictionary<string, long[]> WithLegsDelivered(SortedDictionary<string, long[]> balances, IEnumerable<OwedLeg> legs)
    {
        var after = new SortedDictionary<string, long[]>(balances.ToDictionary(entry => entry.Key, entry => (long[])entry.Value.Clone()), StringComparer.Ordinal);
        foreach (var leg in legs)
        {
            after[leg.Credit][3] += leg.Amount;
            if (!after.TryGetValue(leg.Transit, out var transit))
            {
                after[leg.Transit] = transit = new long[4];
            }
            transit[1] += leg.Amount;
        }
        return after;
    }

    private static List<string> Render(SortedDictionary<string, long[]> balances) =>
        balances.Select(entry => $"{entry.Key} {string.Join(' ', entry.Value)}").ToList();

    private static string Hex(UInt128 id) => id.ToString("X32", System.Globalization.CultureInfo.InvariantCulture);
}
