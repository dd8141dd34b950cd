using System.Data.Common;
using System.Globalization;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Storage.Postgres;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Bulwark.Ledger;

/// <summary>What <see cref="LedgerChecker.Check"/> found: Ok when <see cref="Problems"/> is empty.</summary>
public sealed record LedgerCheckReport(bool Ok, long AccountCount, long TransferCount, IReadOnlyList<string> Problems)
{
    /// <summary>Credit legs owed between cells and not yet delivered: in flight, not errors.</summary>
    public int CreditLegsInFlight { get; init; }

    /// <summary>Cells checked.</summary>
    public int CellCount { get; init; } = 1;

    /// <summary>The ids (32 hex digits) of the transfers whose credit legs are in flight, the first <see cref="LedgerChecker.ProblemsListedMax"/>.</summary>
    public IReadOnlyList<string> CreditLegsInFlightIds { get; init; } = [];
}

/// <summary>One cell's store for <see cref="LedgerChecker.CheckCells"/>: a SQLite file or a PostgreSQL connection string.</summary>
public sealed record LedgerCellSource(string? SqlitePath, string? PostgresConnectionString)
{
    public static LedgerCellSource Sqlite(string path) => new(path, null);

    public static LedgerCellSource Postgres(string connectionString) => new(null, connectionString);

    public override string ToString() => SqlitePath ?? "postgres";
}

/// <summary>
/// Verifies a ledger from outside a running bank, read-only, recomputing everything from the
/// transfer log rather than trusting the balances the writer stored:
/// <list type="bullet">
/// <item>in every cell, the sum over all accounts of credits minus debits is zero, posted and pending;</item>
/// <item>every account's four balances equal the sums of its rows (a transfer between partitions
/// books its other side to the partition's transit account: docs/internals/cells.md);</item>
/// <item>every post or void names an existing hold whose state says so, each hold is posted or
/// voided at most once, and a posted hold's posted amount is its post's amount;</item>
/// <item>every row names accounts that exist (in some cell);</item>
/// <item>every debit leg that moved money has exactly one credit leg (or a return of the money) of
/// the same amount, in any cell, unless it is still owed (in flight: counted, not an error), and
/// every credit leg has its debit leg.</item>
/// </list>
/// </summary>
public static class LedgerChecker
{
    /// <summary>Problems reported in full; beyond this the report says how many more there were.</summary>
    public const int ProblemsListedMax = 1_000;

    public static LedgerCheckReport Check(string databasePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        if (!File.Exists(databasePath))
        {
            throw new FileNotFoundException($"There is no ledger database at {databasePath}.", databasePath);
        }
        return CheckCells([LedgerCellSource.Sqlite(databasePath)]);
    }

    /// <summary>The same checks on a ledger in PostgreSQL (schema <c>ledger</c>), in one REPEATABLE READ snapshot.</summary>
    public static LedgerCheckReport CheckPostgres(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return CheckCells([LedgerCellSource.Postgres(connectionString)]);
    }

    /// <summary>Checks every cell of a ledger, each in one snapshot of its own, and the legs between them.</summary>
    public static LedgerCheckReport CheckCells(IReadOnlyList<LedgerCellSource> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Count == 0)
        {
            throw new ArgumentException("At least one cell to check.", nameof(cells));
        }
        var problems = new Problems();
        var legs = new LegLedger();
        var allAccounts = new HashSet<UInt128>();
        long accountCount = 0;
        long transferCount = 0;
        foreach (var cell in cells)
        {
            var (accounts, transfers) = CheckCell(cell, problems, legs);
            // Accounts and transfers as clients know them: not the transit accounts, not second legs.
            accountCount += accounts.Keys.Count(id => !TransitAccounts.IsTransit(id));
            transferCount += transfers;
            allAccounts.UnionWith(accounts.Keys);
        }
        foreach (var (row, account) in legs.RemoteAccounts)
        {
            if (!allAccounts.Contains(account))
            {
                problems.Add($"transfer {Hex(row)} names account {Hex(account)}, which exists in no cell");
            }
        }
        var inFlight = legs.Match(problems);
        return new LedgerCheckReport(problems.Count == 0, accountCount, transferCount, problems.ToList())
        {
            CreditLegsInFlight = inFlight,
            CellCount = cells.Count,
            CreditLegsInFlightIds = legs.InFlight,
        };
    }

    private static (Dictionary<UInt128, Balances> Accounts, long Transfers) CheckCell(LedgerCellSource cell, Problems problems, LegLedger legs)
    {
        if (cell.SqlitePath is { } path)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"There is no ledger database at {path}.", path);
            }
            using var connection = new SqliteDatabase(path).OpenReadOnly();
            // One read transaction, so that every statement reads the same committed state: run
            // beside a live ledger, a batch committed between them would otherwise be reported as damage.
            using var snapshot = connection.BeginTransaction(deferred: true);
            return CheckCell(connection, snapshot, problems, legs, SqliteId);
        }
        using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(cell.PostgresConnectionString) { Pooling = false, SearchPath = "ledger" });
        using var postgres = PostgresConnections.Open(dataSource);
        using var repeatable = postgres.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
        return CheckCell(postgres, repeatable, problems, legs, PostgresId);
    }

    private static (Dictionary<UInt128, Balances>, long) CheckCell(DbConnection connection, DbTransaction snapshot, Problems problems, LegLedger legs,
        Func<DbDataReader, int, UInt128> readId)
    {
        var partitionCount = PartitionCount(connection, snapshot);
        // A cell checks only the partitions it owns: it may also hold a copy it is importing, or
        // one it gave away and has not deleted yet, which its new owner answers for.
        var owned = OwnedPartitions(connection, snapshot, problems, legs);
        var accounts = LoadAccounts(connection, snapshot, readId, owned);
        var transfers = Recompute(connection, snapshot, accounts, problems, legs, partitionCount, readId, owned);
        LoadOwedLegs(connection, snapshot, legs, readId, owned);
        CompareBalances(accounts, problems);
        return (accounts, transfers);
    }

    /// <summary>The partitions the cell owns (served or paused for a move); null for a store from before cells, which owns all it holds.</summary>
    private static HashSet<int>? OwnedPartitions(DbConnection connection, DbTransaction snapshot, Problems problems, LegLedger legs)
    {
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        command.CommandText = "SELECT value FROM cell_identity WHERE key = 'cell'";
        if (command.ExecuteScalar() is not string cell)
        {
            return null;
        }
        command.CommandText = "SELECT partition FROM partition_owners WHERE state IN (1, 2)";
        var owned = new HashSet<int>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var partition = Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture);
            owned.Add(partition);
            if (!legs.Owners.TryAdd(partition, cell))
            {
                problems.Add(Invariant($"partition {partition} is owned by two cells: {legs.Owners[partition]} and {cell}"));
            }
        }
        return owned;
    }

    private static UInt128 SqliteId(DbDataReader reader, int ordinal) => SqliteRows.ReadId((SqliteDataReader)reader, ordinal);

    private static UInt128 PostgresId(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? UInt128.Zero : PostgresLedgerStore.FromGuid(reader.GetFieldValue<Guid>(ordinal));

    private static int PartitionCount(DbConnection connection, DbTransaction snapshot)
    {
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        command.CommandText = "SELECT value FROM ledger_meta WHERE key = 'partition_count'";
        return command.ExecuteScalar() is { } value and not DBNull ? Convert.ToInt32(value, CultureInfo.InvariantCulture) : LedgerLimits.PartitionCountDefault;
    }

    private static Dictionary<UInt128, Balances> LoadAccounts(DbConnection connection, DbTransaction snapshot, Func<DbDataReader, int, UInt128> readId, HashSet<int>? owned)
    {
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        command.CommandText = "SELECT id, debits_pending, debits_posted, credits_pending, credits_posted, partition FROM accounts";
        using var reader = command.ExecuteReader();
        var accounts = new Dictionary<UInt128, Balances>();
        while (reader.Read())
        {
            if (owned is not null && !owned.Contains(Convert.ToInt32(reader.GetValue(5), CultureInfo.InvariantCulture)))
            {
                continue;
            }
            accounts[readId(reader, 0)] = new Balances
            {
                StoredDebitsPending = reader.GetInt64(1),
                StoredDebitsPosted = reader.GetInt64(2),
                StoredCreditsPending = reader.GetInt64(3),
                StoredCreditsPosted = reader.GetInt64(4),
            };
        }
        return accounts;
    }

    private static void LoadOwedLegs(DbConnection connection, DbTransaction snapshot, LegLedger legs, Func<DbDataReader, int, UInt128> readId, HashSet<int>? owned)
    {
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        command.CommandText = "SELECT id, amount, state, partition FROM credit_legs_owed";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (owned is not null && !owned.Contains(Convert.ToInt32(reader.GetValue(3), CultureInfo.InvariantCulture)))
            {
                continue;
            }
            legs.Owed[readId(reader, 0)] = ((OwedLegState)reader.GetInt64(2), reader.GetInt64(1));
        }
    }

    private static long Recompute(DbConnection connection, DbTransaction snapshot, Dictionary<UInt128, Balances> accounts, Problems problems,
        LegLedger legs, int partitionCount, Func<DbDataReader, int, UInt128> readId, HashSet<int>? owned)
    {
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        command.CommandText = "SELECT id, debit_account_id, credit_account_id, amount, pending_id, flags, state, posted_amount, leg, partition, currency " +
            "FROM transfers ORDER BY sequence";
        using var reader = command.ExecuteReader();
        var holds = new Dictionary<UInt128, HoldSeen>();
        var seconds = new List<SecondPhase>();
        long count = 0;
        while (reader.Read())
        {
            var id = readId(reader, 0);
            var amount = reader.GetInt64(3);
            var flags = (TransferFlags)reader.GetInt64(5);
            var state = (TransferState)reader.GetInt64(6);
            var leg = (TransferLeg)Convert.ToInt32(reader.GetValue(8), CultureInfo.InvariantCulture);
            var partition = Convert.ToInt32(reader.GetValue(9), CultureInfo.InvariantCulture);
            if (owned is not null && !owned.Contains(partition))
            {
                continue;
            }
            if (leg is TransferLeg.Whole or TransferLeg.Debit)
            {
                count++;
            }
            var transit = TransitAccounts.IdOf(partition, reader.GetString(10), partitionCount);
            // The accounts the row moves money between: the real ones, or this partition's transit for the side in another partition.
            var debitId = leg is TransferLeg.Credit ? transit : readId(reader, 1);
            var creditId = leg is TransferLeg.Debit or TransferLeg.Return ? transit : readId(reader, 2);
            if (leg is TransferLeg.Return)
            {
                (debitId, creditId) = (transit, readId(reader, 1));
            }
            if (leg is not TransferLeg.Whole)
            {
                legs.Add(id, leg, flags, amount, readId(reader, leg is TransferLeg.Credit ? 1 : 2));
            }
            if (!accounts.TryGetValue(debitId, out var debit))
            {
                problems.Add($"transfer {Hex(id)} names debit account {Hex(debitId)}, which does not exist");
                continue;
            }
            if (!accounts.TryGetValue(creditId, out var credit))
            {
                problems.Add($"transfer {Hex(id)} names credit account {Hex(creditId)}, which does not exist");
                continue;
            }
            if ((flags & TransferFlags.Force) != 0 && flags is not (TransferFlags.Force or (TransferFlags.Force | TransferFlags.Pending)))
            {
                problems.Add($"transfer {Hex(id)} has flags {(uint)flags}, which the ledger never writes");
                continue;
            }
            if (leg is TransferLeg.Credit or TransferLeg.Return && flags != TransferFlags.None)
            {
                problems.Add($"{(leg == TransferLeg.Credit ? "credit" : "return")} leg {Hex(id)} has flags {(uint)flags}, which the ledger never writes");
                continue;
            }
            // A forced debit counts as any other; only its limit check was skipped.
            switch (flags & ~TransferFlags.Force)
            {
                case TransferFlags.None:
                case TransferFlags.PostPending:
                    debit.DebitsPosted += amount;
                    credit.CreditsPosted += amount;
                    break;
                case TransferFlags.Pending:
                    if (state == TransferState.Pending)
                    {
                        debit.DebitsPending += amount;
                        credit.CreditsPending += amount;
                    }
                    holds[id] = new HoldSeen(state, amount, reader.GetInt64(7));
                    break;
                case TransferFlags.VoidPending:
                    break;
                default:
                    problems.Add($"transfer {Hex(id)} has flags {(uint)flags}, which the ledger never writes");
                    continue;
            }
            if (flags is TransferFlags.PostPending or TransferFlags.VoidPending)
            {
                seconds.Add(new SecondPhase(id, readId(reader, 4), flags, amount));
            }
        }
        CheckHolds(holds, seconds, problems);
        return count;
    }

    private static void CheckHolds(Dictionary<UInt128, HoldSeen> holds, List<SecondPhase> seconds, Problems problems)
    {
        var resolvedBy = new Dictionary<UInt128, SecondPhase>();
        foreach (var second in seconds)
        {
            var what = second.Flags == TransferFlags.PostPending ? "post" : "void";
            if (!holds.TryGetValue(second.PendingId, out var hold))
            {
                problems.Add($"{what} {Hex(second.Id)} names hold {Hex(second.PendingId)}, which does not exist");
                continue;
            }
            if (!resolvedBy.TryAdd(second.PendingId, second))
            {
                problems.Add($"hold {Hex(second.PendingId)} is resolved twice: by {Hex(resolvedBy[second.PendingId].Id)} and {Hex(second.Id)}");
                continue;
            }
            var expected = second.Flags == TransferFlags.PostPending ? TransferState.HoldPosted : TransferState.Voided;
            if (hold.State != expected)
            {
                problems.Add($"hold {Hex(second.PendingId)} is {hold.State} but {what} {Hex(second.Id)} resolved it");
            }
            else if (expected == TransferState.HoldPosted && hold.PostedAmount != second.Amount)
            {
                problems.Add(Invariant($"hold {Hex(second.PendingId)} records {hold.PostedAmount} posted but post {Hex(second.Id)} moved {second.Amount}"));
            }
        }
        foreach (var (id, hold) in holds)
        {
            if (hold.State is TransferState.HoldPosted or TransferState.Voided && !resolvedBy.ContainsKey(id))
            {
                problems.Add($"hold {Hex(id)} is {hold.State} but no post or void transfer names it");
            }
        }
    }

    private static void CompareBalances(Dictionary<UInt128, Balances> accounts, Problems problems)
    {
        Int128 posted = 0;
        Int128 pending = 0;
        foreach (var (id, balances) in accounts)
        {
            posted += (Int128)balances.StoredCreditsPosted - balances.StoredDebitsPosted;
            pending += (Int128)balances.StoredCreditsPending - balances.StoredDebitsPending;
            Compare(problems, id, "debits_pending", balances.StoredDebitsPending, balances.DebitsPending);
            Compare(problems, id, "debits_posted", balances.StoredDebitsPosted, balances.DebitsPosted);
            Compare(problems, id, "credits_pending", balances.StoredCreditsPending, balances.CreditsPending);
            Compare(problems, id, "credits_posted", balances.StoredCreditsPosted, balances.CreditsPosted);
        }
        if (posted != 0)
        {
            problems.Add(Invariant($"posted balances do not sum to zero: credits minus debits over all accounts is {posted}"));
        }
        if (pending != 0)
        {
            problems.Add(Invariant($"pending balances do not sum to zero: credits minus debits over all accounts is {pending}"));
        }
    }

    private static void Compare(Problems problems, UInt128 id, string column, long stored, Int128 recomputed)
    {
        if (stored != recomputed)
        {
            problems.Add(Invariant($"account {Hex(id)} stores {column} {stored} but its transfers sum to {recomputed}"));
        }
    }

    private static string Hex(UInt128 id) => id.ToString("x32", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed class Balances
    {
        public long StoredDebitsPending { get; init; }

        public long StoredDebitsPosted { get; init; }

        public long StoredCreditsPending { get; init; }

        public long StoredCreditsPosted { get; init; }

        public Int128 DebitsPending { get; set; }

        public Int128 DebitsPosted { get; set; }

        public Int128 CreditsPending { get; set; }

        public Int128 CreditsPosted { get; set; }
    }

    /// <summary>The legs of transfers between partitions seen in every cell, matched once all are read.</summary>
    private sealed class LegLedger
    {
        /// <summary>Debit legs that moved money (single-phase, or a hold's post) and so owe a credit leg.</summary>
        private readonly Dictionary<UInt128, long> _owing = [];
        private readonly Dictionary<UInt128, long> _credits = [];
        private readonly Dictionary<UInt128, long> _returns = [];

        public Dictionary<UInt128, (OwedLegState State, long Amount)> Owed { get; } = [];

        /// <summary>Which cell owns each partition, as the cells' own tables say (each at most once).</summary>
        public Dictionary<int, string> Owners { get; } = [];

        /// <summary>Rows naming an account in another partition (maybe another cell), checked against every cell.</summary>
        public List<(UInt128 Row, UInt128 Account)> RemoteAccounts { get; } = [];

        /// <summary>Transfers whose credit leg is still owed (the first <see cref="ProblemsListedMax"/>), set by <see cref="Match"/>.</summary>
        public List<string> InFlight { get; } = [];

        public void Add(UInt128 id, TransferLeg leg, TransferFlags flags, long amount, UInt128 otherAccount)
        {
            switch (leg)
            {
                case TransferLeg.Debit when (flags & ~TransferFlags.Force) is TransferFlags.None or TransferFlags.PostPending:
                    _owing[id] = amount;
                    break;
                case TransferLeg.Credit:
                    _credits[id] = amount;
                    break;
                case TransferLeg.Return:
                    _returns[id] = amount;
                    break;
            }
            if (leg != TransferLeg.Return)
            {
                RemoteAccounts.Add((id, otherAccount));
            }
        }

        /// <summary>Reports unmatched legs; returns how many are still owed (in flight).</summary>
        public int Match(Problems problems)
        {
            var inFlight = 0;
            foreach (var (id, amount) in _owing)
            {
                var credited = _credits.TryGetValue(id, out var credit);
                var returned = _returns.TryGetValue(id, out var back);
                if (credited && returned)
                {
                    problems.Add($"transfer {Hex(id)} was both credited and returned");
                }
                else if (credited && credit != amount)
                {
                    problems.Add(Invariant($"transfer {Hex(id)} debited {amount} but its credit leg credited {credit}"));
                }
                else if (returned && back != amount)
                {
                    problems.Add(Invariant($"transfer {Hex(id)} debited {amount} but {back} was returned"));
                }
                else if (!credited && !returned)
                {
                    if (Owed.TryGetValue(id, out var owed) && owed.State == OwedLegState.Owed)
                    {
                        inFlight++;
                        if (InFlight.Count < ProblemsListedMax)
                        {
                            InFlight.Add(Hex(id));
                        }
                    }
                    else
                    {
                        problems.Add(Invariant($"transfer {Hex(id)} debited {amount} but no cell holds its credit leg, and none owes it"));
                    }
                }
            }
            foreach (var id in _credits.Keys)
            {
                if (!_owing.ContainsKey(id))
                {
                    problems.Add($"credit leg {Hex(id)} has no debit leg in any cell");
                }
            }
            foreach (var id in _returns.Keys)
            {
                if (!_owing.ContainsKey(id))
                {
                    problems.Add($"return leg {Hex(id)} has no debit leg in any cell");
                }
            }
            return inFlight;
        }
    }

    private readonly record struct HoldSeen(TransferState State, long Amount, long PostedAmount);

    private readonly record struct SecondPhase(UInt128 Id, UInt128 PendingId, TransferFlags Flags, long Amount);

    /// <summary>The problems found, the first <see cref="ProblemsListedMax"/> in full.</summary>
    private sealed class Problems
    {
        private readonly List<string> _listed = [];

        public int Count { get; private set; }

        public void Add(string problem)
        {
            Count++;
            if (_listed.Count < ProblemsListedMax)
            {
                _listed.Add(problem);
            }
        }

        public List<string> ToList()
        {
            var list = new List<string>(_listed);
            if (Count > _listed.Count)
            {
                list.Add(Invariant($"... and {Count - _listed.Count} more problems"));
            }
            return list;
        }
    }
}
