using System.Data.Common;
using System.Globalization;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Storage.Postgres;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Bulwark.Ledger;

/// <summary>What <see cref="LedgerChecker.Check"/> found: Ok when <see cref="Problems"/> is empty.</summary>
public sealed record LedgerCheckReport(bool Ok, long AccountCount, long TransferCount, IReadOnlyList<string> Problems);

/// <summary>
/// Verifies a ledger database from outside a running bank, read-only, recomputing everything from
/// the transfer log rather than trusting the balances the writer stored:
/// <list type="bullet">
/// <item>the sum over all accounts of credits minus debits is zero, posted and pending;</item>
/// <item>every account's four balances equal the sums of its transfers (single-phase and post
/// transfers posted; holds still PENDING pending);</item>
/// <item>every post or void names an existing hold whose state says so, each hold is posted or
/// voided at most once, and a posted hold's posted amount is its post's amount;</item>
/// <item>every transfer names accounts that exist.</item>
/// </list>
/// </summary>
public static class LedgerChecker
{
    /// <summary>Problems reported in full; beyond this the report says how many more there were.</summary>
    public const int ProblemsListedMax = 1_000;

    public static LedgerCheckReport Check(string databasePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        using var connection = new SqliteDatabase(databasePath).OpenReadOnly();
        // One read transaction, so that both statements read the same committed state: run beside
        // a live ledger, a batch committed between them would otherwise be reported as damage.
        using var snapshot = connection.BeginTransaction(deferred: true);
        var problems = new Problems();
        var accounts = LoadAccounts(connection, snapshot, SqliteId);
        var transferCount = Recompute(connection, snapshot, accounts, problems, SqliteId);
        CompareBalances(accounts, problems);
        return new LedgerCheckReport(problems.Count == 0, accounts.Count, transferCount, problems.ToList());
    }

    /// <summary>The same checks on a ledger in PostgreSQL (schema <c>ledger</c>), in one REPEATABLE READ snapshot.</summary>
    public static LedgerCheckReport CheckPostgres(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, SearchPath = "ledger" });
        using var connection = PostgresConnections.Open(dataSource);
        using var snapshot = connection.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
        var problems = new Problems();
        var accounts = LoadAccounts(connection, snapshot, PostgresId);
        var transferCount = Recompute(connection, snapshot, accounts, problems, PostgresId);
        CompareBalances(accounts, problems);
        return new LedgerCheckReport(problems.Count == 0, accounts.Count, transferCount, problems.ToList());
    }

    private static UInt128 SqliteId(DbDataReader reader, int ordinal) => SqliteRows.ReadId((SqliteDataReader)reader, ordinal);

    private static UInt128 PostgresId(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? UInt128.Zero : PostgresLedgerStore.FromGuid(reader.GetFieldValue<Guid>(ordinal));

    private static Dictionary<UInt128, Balances> LoadAccounts(DbConnection connection, DbTransaction snapshot, Func<DbDataReader, int, UInt128> readId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        command.CommandText = "SELECT id, debits_pending, debits_posted, credits_pending, credits_posted FROM accounts";
        using var reader = command.ExecuteReader();
        var accounts = new Dictionary<UInt128, Balances>();
        while (reader.Read())
        {
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

    private static long Recompute(DbConnection connection, DbTransaction snapshot, Dictionary<UInt128, Balances> accounts, Problems problems, Func<DbDataReader, int, UInt128> readId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        command.CommandText = "SELECT id, debit_account_id, credit_account_id, amount, pending_id, flags, state, posted_amount " +
            "FROM transfers ORDER BY sequence";
        using var reader = command.ExecuteReader();
        var holds = new Dictionary<UInt128, HoldSeen>();
        var seconds = new List<SecondPhase>();
        long count = 0;
        while (reader.Read())
        {
            count++;
            var id = readId(reader, 0);
            var debitId = readId(reader, 1);
            var creditId = readId(reader, 2);
            var amount = reader.GetInt64(3);
            var flags = (TransferFlags)reader.GetInt64(5);
            var state = (TransferState)reader.GetInt64(6);
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
