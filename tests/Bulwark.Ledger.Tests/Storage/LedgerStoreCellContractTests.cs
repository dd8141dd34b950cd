using System.Buffers.Binary;
using System.Globalization;
using System.Reflection;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;
using Bulwark.Storage.Postgres;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Bulwark.Ledger.Tests.Storage;

/// <summary>SQLite runs the cell store contract.</summary>
public sealed class SqliteLedgerStoreCellContractTests : LedgerStoreCellContractTests, IDisposable
{
    private readonly TempDirectory _directory = new(inMemory: true);
    private int _databases;

    protected override string NewLocation() => _directory.File($"cells-{++_databases}.db");

    protected override ILedgerStore OpenStore(string location) => new SqliteLedgerStore(location);

    protected override ILedgerStore OpenOtherKindStore() => new PostgresLedgerStore(PostgresTestServer.NewDatabase("cellcopy"));

    protected override void CreatePreCellsStore(string location)
    {
        using var connection = new SqliteConnection($"Data Source={location};Pooling=False");
        connection.Open();
        // Version 2 is the last SQLite schema before cells.
        SqliteMigrator.Apply(connection, "ledger", ReleasedMigrations(typeof(SqliteLedgerStore), "SqliteLedgerSchema").Take(2).ToList());
        using var command = connection.CreateCommand();
        foreach (var (partition, account) in PreCellsAccounts())
        {
            command.Parameters.Clear();
            command.CommandText = "INSERT INTO accounts (id, partition, currency, flags, overdraft_limit, code, debits_pending, debits_posted, " +
                "credits_pending, credits_posted, created_at) VALUES ($id, $partition, $currency, 0, 0, $code, $dp, $dpo, $cp, $cpo, $created)";
            command.Parameters.AddWithValue("$id", Bytes(account.Id));
            command.Parameters.AddWithValue("$partition", partition);
            command.Parameters.AddWithValue("$currency", account.Currency);
            command.Parameters.AddWithValue("$code", (long)account.Code);
            command.Parameters.AddWithValue("$dp", account.DebitsPending);
            command.Parameters.AddWithValue("$dpo", account.DebitsPosted);
            command.Parameters.AddWithValue("$cp", account.CreditsPending);
            command.Parameters.AddWithValue("$cpo", account.CreditsPosted);
            command.Parameters.AddWithValue("$created", account.CreatedAtUnixMs);
            command.ExecuteNonQuery();
        }
        foreach (var (partition, transfer) in PreCellsTransfers())
        {
            command.Parameters.Clear();
            command.CommandText = "INSERT INTO transfers (sequence, id, partition, debit_account_id, credit_account_id, amount, currency, pending_id, " +
                "flags, timeout_seconds, code, metadata, timestamp, state, posted_amount, expires_at) " +
                "VALUES ($sequence, $id, $partition, $debit, $credit, $amount, $currency, NULL, $flags, $timeout, $code, NULL, $timestamp, $state, 0, $expires)";
            command.Parameters.AddWithValue("$sequence", transfer.Sequence);
            command.Parameters.AddWithValue("$id", Bytes(transfer.Id));
            command.Parameters.AddWithValue("$partition", partition);
            command.Parameters.AddWithValue("$debit", Bytes(transfer.DebitAccountId));
            command.Parameters.AddWithValue("$credit", Bytes(transfer.CreditAccountId));
            command.Parameters.AddWithValue("$amount", transfer.Amount);
            command.Parameters.AddWithValue("$currency", transfer.Currency);
            command.Parameters.AddWithValue("$flags", (long)transfer.Flags);
            command.Parameters.AddWithValue("$timeout", (long)transfer.TimeoutSeconds);
            command.Parameters.AddWithValue("$code", (long)transfer.Code);
            command.Parameters.AddWithValue("$timestamp", transfer.TimestampUnixMs);
            command.Parameters.AddWithValue("$state", (long)transfer.State);
            command.Parameters.AddWithValue("$expires", transfer.ExpiresAtUnixMs);
            command.ExecuteNonQuery();
        }
    }

    public void Dispose() => _directory.Dispose();

    private static byte[] Bytes(UInt128 id)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, id);
        return bytes;
    }
}

/// <summary>PostgreSQL runs the same cell store contract, and shows the constraint it changed.</summary>
public sealed class PostgresLedgerStoreCellContractTests : LedgerStoreCellContractTests, IDisposable
{
    private readonly TempDirectory _directory = new(inMemory: true);
    private int _copies;

    protected override string NewLocation() => PostgresTestServer.NewDatabase("cells");

    protected override ILedgerStore OpenStore(string location) => new PostgresLedgerStore(location);

    protected override ILedgerStore OpenOtherKindStore() => new SqliteLedgerStore(_directory.File($"copy-{++_copies}.db"));

    public void Dispose() => _directory.Dispose();

    protected override void CreatePreCellsStore(string location)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(location) { Pooling = false }.ConnectionString);
        connection.Open();
        // Version 1 is the last PostgreSQL schema before cells.
        PostgresMigrator.Apply(connection, "ledger", ReleasedMigrations(typeof(PostgresLedgerStore), "PostgresLedgerSchema").Take(1).ToList());
        foreach (var (partition, account) in PreCellsAccounts())
        {
            using var command = new NpgsqlCommand(
                "INSERT INTO ledger.accounts (id, partition, currency, flags, overdraft_limit, code, debits_pending, debits_posted, " +
                "credits_pending, credits_posted, created_at) VALUES ($1::uuid, $2, $3, 0, 0, $4, $5, $6, $7, $8, $9)", connection);
            Add(command, Uuid(account.Id), partition, account.Currency, (long)account.Code, account.DebitsPending, account.DebitsPosted,
                account.CreditsPending, account.CreditsPosted, account.CreatedAtUnixMs);
            command.ExecuteNonQuery();
        }
        foreach (var (partition, transfer) in PreCellsTransfers())
        {
            using var command = new NpgsqlCommand(
                "INSERT INTO ledger.transfers (sequence, id, partition, debit_account_id, credit_account_id, amount, currency, pending_id, " +
                "flags, timeout_seconds, code, metadata, timestamp, state, posted_amount, expires_at) " +
                "VALUES ($1, $2::uuid, $3, $4::uuid, $5::uuid, $6, $7, NULL, $8, $9, $10, NULL, $11, $12, 0, $13)", connection);
            Add(command, transfer.Sequence, Uuid(transfer.Id), partition, Uuid(transfer.DebitAccountId), Uuid(transfer.CreditAccountId),
                transfer.Amount, transfer.Currency, (long)transfer.Flags, (long)transfer.TimeoutSeconds, (long)transfer.Code,
                transfer.TimestampUnixMs, (long)transfer.State, transfer.ExpiresAtUnixMs);
            command.ExecuteNonQuery();
        }
    }

    protected override void AssertUpgradedSchema(string location)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(location) { Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(
            "SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), '; ' ORDER BY conname) FROM pg_constraint " +
            "WHERE conrelid = 'ledger.transfers'::regclass AND contype IN ('u', 'p')", connection);
        Assert.Equal("transfers_id_leg_key UNIQUE (id, leg); transfers_pkey PRIMARY KEY (sequence)", command.ExecuteScalar());
        Assert.Equal(6, PostgresMigrator.CurrentVersion(connection, null, "ledger"));
    }

    private static string Uuid(UInt128 id) => id.ToString("x32", CultureInfo.InvariantCulture);

    private static void Add(NpgsqlCommand command, params object[] values)
    {
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
    }
}

/// <summary>
/// What every <see cref="ILedgerStore"/> must do for cells (docs/internals/cells.md): keep the
/// cell's identity and ownership, refuse to become a cell twice or to hide data it holds, keep the
/// two legs of a transfer between partitions as two rows with one id, keep the credit legs it owes
/// other cells until they are settled, list an account's history in one partition only, and
/// upgrade a store made before cells, whose rows all become WHOLE ones.
/// </summary>
public abstract partial class LedgerStoreCellContractTests
{
    private const int Partitions = 16;

    /// <summary>Two accounts in different partitions (found, not assumed: the partitioner decides).</summary>
    private static readonly UInt128 D = 1;
    private static readonly UInt128 C = FirstIdOutside(LedgerPartitioner.PartitionOf(D, Partitions));
    private static readonly int PartitionD = LedgerPartitioner.PartitionOf(D, Partitions);
    private static readonly int PartitionC = LedgerPartitioner.PartitionOf(C, Partitions);
    private static readonly int PartitionOther = Enumerable.Range(0, Partitions).First(partition => partition != PartitionD && partition != PartitionC);

    protected abstract string NewLocation();

    protected abstract ILedgerStore OpenStore(string location);

    /// <summary>Makes, at <paramref name="location"/>, a store of the last schema version before cells holding <see cref="PreCellsAccounts"/> and <see cref="PreCellsTransfers"/>.</summary>
    protected abstract void CreatePreCellsStore(string location);

    /// <summary>Store-specific checks of the upgraded schema.</summary>
    protected virtual void AssertUpgradedSchema(string location)
    {
    }

    [Fact]
    public void InitialiseCell_ThenLoadCell_RoundTripsAndSurvivesReopen()
    {
        var location = NewLocation();
        using (var store = OpenStore(location))
        {
            store.Open(Partitions);
            Assert.Null(store.LoadCell());
            store.InitialiseCell("cell-a", "cluster-1", [5, 0, 3]);
            AssertCell(store.LoadCell());
        }
        using var again = OpenStore(location);
        again.Open(Partitions);
        AssertCell(again.LoadCell());

        static void AssertCell(LedgerCellRecord? record)
        {
            Assert.NotNull(record);
            Assert.Equal(("cell-a", "cluster-1"), (record.Cell, record.ClusterId));
            Assert.Equal(
                [new(0, 1, OwnershipState.Owned, "", 0), new(3, 1, OwnershipState.Owned, "", 0), new PartitionOwnership(5, 1, OwnershipState.Owned, "", 0)],
                record.Ownership);
        }
    }

    [Fact]
    public void InitialiseCell_SecondTime_RefusedKeepingTheFirst_AndTheStoreKeepsWorking()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.InitialiseCell("cell-a", "", [PartitionD, PartitionC]);

        var error = Assert.Throws<InvalidOperationException>(() => store.InitialiseCell("cell-b", "cluster-2", [1]));
        Assert.Contains("already belongs to a cell", error.Message, StringComparison.Ordinal);
        var record = store.LoadCell()!;
        Assert.Equal(("cell-a", ""), (record.Cell, record.ClusterId));
        Assert.Equal(new[] { PartitionD, PartitionC }.Order(), record.Ownership.Select(row => row.Partition));

        // A refusal is not a failure of the store: the writer still commits without a reload.
        store.Commit(Accounts());
        Assert.Equal(2, store.LoadAccounts().Count);
    }

    [Fact]
    public void InitialiseCell_StoreHoldsAccountsOfPartitionsNotOwned_RefusedWritingNothing()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(Accounts());

        var error = Assert.Throws<InvalidOperationException>(() => store.InitialiseCell("cell-a", "", [PartitionD]));
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"e.g. {PartitionC}"), error.Message, StringComparison.Ordinal);
        Assert.Null(store.LoadCell());

        store.InitialiseCell("cell-a", "", [PartitionD, PartitionC, PartitionOther]);
        Assert.Equal(3, store.LoadCell()!.Ownership.Count);
    }

    [Fact]
    public async Task Legs_OneId_DebitAndCreditRowsCoexist_FindTransferAnswersThePrimary_FindLegTheCredit()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(Accounts());
        var (debitLeg, creditLeg) = Legs(50, sequence: 1, amount: 30);
        var commit = new LedgerCommit();
        commit.NewTransfers.Add(new(PartitionD, debitLeg));
        commit.NewTransfers.Add(new(PartitionC, creditLeg));
        store.Commit(commit);

        Assert.Equal(debitLeg, store.FindTransfer(50));
        Assert.Equal(creditLeg, store.FindLeg(50, TransferLeg.Credit));
        Assert.Null(store.FindLeg(50, TransferLeg.Return));
        Assert.Null(store.FindLeg(51, TransferLeg.Credit));
        Assert.Equal([debitLeg], await store.GetTransfersAsync([50], CancellationToken.None));
        Assert.Equal(new LedgerWriterPosition(2, creditLeg.TimestampUnixMs), store.LoadPosition());

        // Rows are unique by (id, leg): a second credit leg of 50 is refused, and nothing of its batch stays.
        var again = new LedgerCommit();
        again.NewAccounts.Add(new(3, new LedgerAccount { Id = 77, Currency = "GBP", Code = 1 }));
        again.NewTransfers.Add(new(PartitionC, creditLeg with { Sequence = 3 }));
        Assert.ThrowsAny<Exception>(() => store.Commit(again));
        Assert.Equal(2, store.LoadAccounts().Count);
        Assert.Equal(2, store.LoadPosition().Sequence);
    }

    [Fact]
    public void ChangedHold_UpdatesOnlyThePrimaryRow_NotTheCreditLegOfTheSameId()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(Accounts());
        var (hold, creditLeg) = Legs(60, sequence: 1, amount: 40);
        hold = hold with { Flags = TransferFlags.Pending, State = TransferState.Pending, TimeoutSeconds = 60, ExpiresAtUnixMs = 99_000 };
        var holding = new LedgerCommit();
        holding.NewTransfers.Add(new(PartitionD, hold));
        store.Commit(holding);

        // Posting the hold writes its credit leg (same id) in the batch that changes the hold:
        // exactly one row, the hold, may change.
        var posting = new LedgerCommit();
        posting.NewTransfers.Add(new(PartitionC, creditLeg with { Sequence = 2, Amount = 25 }));
        posting.ChangedHolds.Add(hold with { State = TransferState.Posted, PostedAmount = 25 });
        store.Commit(posting);

        Assert.Equal((TransferState.Posted, 25L), (store.FindTransfer(60)!.State, store.FindTransfer(60)!.PostedAmount));
        var credit = store.FindLeg(60, TransferLeg.Credit)!;
        Assert.Equal((TransferState.Posted, 0L, 25L), (credit.State, credit.PostedAmount, credit.Amount));
        Assert.Empty(store.FindExpiredHolds(100_000, 10, []));
    }

    [Fact]
    public async Task OwedLegs_InsertedListedOldestFirstWithinTheLimit_SettledOnesLeaveTheList()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(Accounts());
        var owed = new[] { Owed(71, createdAt: 3_000), Owed(72, createdAt: 1_000), Owed(73, createdAt: 2_000) };
        var commit = new LedgerCommit();
        commit.NewOwedLegs.AddRange(owed);
        store.Commit(commit);

        var open = await store.GetOwedCreditLegsAsync(10, [], CancellationToken.None);
        Assert.Equal([owed[1], owed[2], owed[0]], open);
        Assert.Equal([(UInt128)72, 73], (await store.GetOwedCreditLegsAsync(2, [], CancellationToken.None)).Select(leg => leg.Leg.Id));

        var settle = new LedgerCommit();
        settle.SettledOwedLegs.Add((72, OwedLegState.Delivered));
        settle.SettledOwedLegs.Add((71, OwedLegState.Returned));
        store.Commit(settle);
        Assert.Equal([(UInt128)73], (await store.GetOwedCreditLegsAsync(10, [], CancellationToken.None)).Select(leg => leg.Leg.Id));

        // Inserted and settled in one batch: it never shows as open.
        var both = new LedgerCommit();
        both.NewOwedLegs.Add(Owed(74, createdAt: 500));
        both.SettledOwedLegs.Add((74, OwedLegState.Delivered));
        store.Commit(both);
        Assert.Equal([(UInt128)73], (await store.GetOwedCreditLegsAsync(10, [], CancellationToken.None)).Select(leg => leg.Leg.Id));

        // One owed leg per id: a second record of 73 is refused.
        var duplicate = new LedgerCommit();
        duplicate.NewOwedLegs.Add(Owed(73, createdAt: 4_000));
        Assert.ThrowsAny<Exception>(() => store.Commit(duplicate));
        store.LoadAccounts();
        Assert.Single(await store.GetOwedCreditLegsAsync(10, [], CancellationToken.None));
    }

    [Fact]
    public async Task OwedLegs_SettledTwice_ChangesNothing_AndDoesNotFailTheBatch()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(Accounts());
        var commit = new LedgerCommit();
        commit.NewOwedLegs.Add(Owed(81, createdAt: 1_000));
        commit.NewOwedLegs.Add(Owed(82, createdAt: 2_000));
        store.Commit(commit);
        var first = new LedgerCommit();
        first.SettledOwedLegs.Add((81, OwedLegState.Delivered));
        store.Commit(first);

        // A redelivery after a crash settles 81 again, and even the other way: nothing changes,
        // and the rest of the batch (an account here) still commits.
        var second = new LedgerCommit();
        second.NewAccounts.Add(new(3, new LedgerAccount { Id = 77, Currency = "GBP", Code = 1 }));
        second.SettledOwedLegs.Add((81, OwedLegState.Returned));
        second.SettledOwedLegs.Add((81, OwedLegState.Delivered));
        store.Commit(second);

        Assert.Equal(3, store.LoadAccounts().Count);
        Assert.Equal([(UInt128)82], (await store.GetOwedCreditLegsAsync(10, [], CancellationToken.None)).Select(leg => leg.Leg.Id));
    }

    [Fact]
    public async Task ListAccountTransfers_EachAccountSeesOnlyTheLegOfItsOwnPartition()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(Accounts());
        var (debitLeg, creditLeg) = Legs(90, sequence: 1, amount: 10);
        var commit = new LedgerCommit();
        commit.NewTransfers.Add(new(PartitionD, debitLeg));
        commit.NewTransfers.Add(new(PartitionC, creditLeg));
        // A whole row between the two partitions, as a store made before cells holds it: both see it.
        commit.NewTransfers.Add(new(PartitionD, debitLeg with { Id = 91, Sequence = 3, Leg = TransferLeg.Whole, TimestampUnixMs = 3_000 }));
        // Money returned to D after its credit leg was refused: D's row, not C's.
        commit.NewTransfers.Add(new(PartitionD, debitLeg with { Id = 92, Sequence = 4, Leg = TransferLeg.Return, TimestampUnixMs = 4_000 }));
        store.Commit(commit);

        // Both legs name both accounts; each account's history shows only the rows of its own partition.
        Assert.Equal([4L, 3L, 1L], (await store.ListAccountTransfersAsync(D, long.MaxValue, 0, 10, CancellationToken.None)).Select(row => row.Sequence));
        var credit = await store.ListAccountTransfersAsync(C, long.MaxValue, 0, 10, CancellationToken.None);
        Assert.Equal([(TransferLeg.Whole, 3L), (TransferLeg.Credit, 2L)], credit.Select(row => (row.Leg, row.Sequence)));
    }

    [Fact]
    public async Task PreCellsStoreWithData_Upgrades_RowsBecomeWholeLegs_UniqueByIdAndLeg()
    {
        var location = NewLocation();
        CreatePreCellsStore(location);
        using (var store = OpenStore(location))
        {
            store.Open(Partitions);
            Assert.Null(store.LoadCell());
            Assert.Equal(2, store.LoadAccounts().Count);
            Assert.Equal(new LedgerWriterPosition(2, 2_000), store.LoadPosition());
            var whole = store.FindTransfer(10)!;
            Assert.Equal(PreCellsTransfers()[0].Row with { Leg = TransferLeg.Whole }, whole);
            Assert.Null(store.FindLeg(10, TransferLeg.Credit));
            var hold = Assert.Single(store.FindExpiredHolds(5_000, 10, []));
            Assert.Equal(((UInt128)11, TransferLeg.Whole), (hold.Id, hold.Leg));
            Assert.Equal([(UInt128)10, 11], (await store.GetTransfersAsync([10, 11], CancellationToken.None)).Select(row => row.Id));

            // The old uniqueness by id is gone (a credit leg of 10 is a row of its own), the new one holds.
            var legs = new LedgerCommit();
            legs.NewTransfers.Add(new(PartitionC, whole with { Sequence = 3, Leg = TransferLeg.Credit, TimestampUnixMs = 3_000 }));
            store.Commit(legs);
            Assert.Equal(TransferLeg.Credit, store.FindLeg(10, TransferLeg.Credit)!.Leg);
            Assert.Equal(TransferLeg.Whole, store.FindTransfer(10)!.Leg);
            var twice = new LedgerCommit();
            twice.NewTransfers.Add(new(PartitionD, whole with { Sequence = 4, TimestampUnixMs = 4_000 }));
            Assert.ThrowsAny<Exception>(() => store.Commit(twice));
            Assert.Equal(3, store.LoadPosition().Sequence);

            // The migrated store becomes a cell like any other.
            store.InitialiseCell("cell-a", "", [PartitionD, PartitionC]);
            Assert.Equal(2, store.LoadCell()!.Ownership.Count);
        }
        AssertUpgradedSchema(location);
    }

    /// <summary>The released migrations of a store's schema class, as shipped (the class is internal to the ledger).</summary>
    protected static IReadOnlyList<string> ReleasedMigrations(Type store, string schemaClass)
    {
        ArgumentNullException.ThrowIfNull(store);
        var schema = store.Assembly.GetType($"Bulwark.Ledger.Storage.{schemaClass}", throwOnError: true)!;
        return (IReadOnlyList<string>)schema.GetField("Migrations", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
    }

    /// <summary>Accounts D and C, with balances, as a store made before cells holds them.</summary>
    protected static IReadOnlyList<Partitioned<LedgerAccount>> PreCellsAccounts() =>
    [
        new(PartitionD, new LedgerAccount { Id = D, Currency = "GBP", Code = 1, CreatedAtUnixMs = 500, DebitsPosted = 100, DebitsPending = 5 }),
        new(PartitionC, new LedgerAccount { Id = C, Currency = "GBP", Code = 1, CreatedAtUnixMs = 500, CreditsPosted = 100, CreditsPending = 5 }),
    ];

    /// <summary>A posted transfer D to C and a pending hold D to C: whole rows in D's partition, as before cells.</summary>
    protected static IReadOnlyList<Partitioned<LedgerTransfer>> PreCellsTransfers() =>
    [
        new(PartitionD, new LedgerTransfer
        {
            Id = 10, Sequence = 1, DebitAccountId = D, CreditAccountId = C, Amount = 100, Currency = "GBP", Code = 3,
            TimestampUnixMs = 1_000, State = TransferState.Posted,
        }),
        new(PartitionD, new LedgerTransfer
        {
            Id = 11, Sequence = 2, DebitAccountId = D, CreditAccountId = C, Amount = 5, Currency = "GBP", Code = 3,
            Flags = TransferFlags.Pending, TimeoutSeconds = 3, TimestampUnixMs = 2_000, State = TransferState.Pending, ExpiresAtUnixMs = 5_000,
        }),
    ];

    private static LedgerCommit Accounts()
    {
        var commit = new LedgerCommit();
        commit.NewAccounts.Add(new(PartitionD, new LedgerAccount { Id = D, Currency = "GBP", Code = 1, CreatedAtUnixMs = 500 }));
        commit.NewAccounts.Add(new(PartitionC, new LedgerAccount { Id = C, Currency = "GBP", Code = 1, CreatedAtUnixMs = 500 }));
        return commit;
    }

    /// <summary>The DEBIT and CREDIT legs of a posted transfer D to C (the transit accounts are the stores' business only through balances).</summary>
    private static (LedgerTransfer Debit, LedgerTransfer Credit) Legs(UInt128 id, long sequence, long amount)
    {
        var debit = new LedgerTransfer
        {
            Id = id,
            Sequence = sequence,
            DebitAccountId = D,
            CreditAccountId = C,
            Amount = amount,
            Currency = "GBP",
            Code = 3,
            TimestampUnixMs = 1_000 * sequence,
            State = TransferState.Posted,
            Leg = TransferLeg.Debit,
            Metadata = new Dictionary<string, string> { ["order"] = "o-1" },
        };
        return (debit, debit with { Sequence = sequence + 1, TimestampUnixMs = 1_000 * (sequence + 1), Leg = TransferLeg.Credit });
    }

    private static OwedCreditLeg Owed(UInt128 id, long createdAt) => new(
        PartitionD,
        new LedgerTransfer
        {
            Id = id,
            DebitAccountId = D,
            CreditAccountId = C,
            Amount = 10 + (long)id,
            Currency = "GBP",
            Code = 7,
            TimestampUnixMs = createdAt,
            State = TransferState.Posted,
            Leg = TransferLeg.Credit,
            Metadata = id % 2 == 0 ? new Dictionary<string, string> { ["ref"] = "r" } : new Dictionary<string, string>(),
        },
        OwedLegState.Owed);

    private static UInt128 FirstIdOutside(int partition)
    {
        for (UInt128 id = 2; ; id++)
        {
            if (LedgerPartitioner.PartitionOf(id, Partitions) != partition)
            {
                return id;
            }
        }
    }
}
