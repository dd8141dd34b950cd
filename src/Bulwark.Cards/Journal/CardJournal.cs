using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Cards.Journal;

/// <summary>What the processor decided about one authorisation, keyed by acquirer, RRN and STAN.</summary>
internal sealed record CardDecision(
    string Key,
    string ResponseCode,
    string ApprovalCode,
    UInt128 HoldId,
    UInt128 DebitAccountId,
    long Amount,
    string Currency,
    string CardToken,
    IReadOnlyDictionary<string, string> Metadata,
    DecisionState State);

/// <summary>Where a decision stands with the ledger.</summary>
internal enum DecisionState
{
    /// <summary>Declined: nothing in the ledger.</summary>
    Declined = 0,

    /// <summary>Approved and the hold is in the ledger.</summary>
    Held = 1,

    /// <summary>Approved in stand-in (or advised by the scheme) and not yet in the ledger: the replayer posts it.</summary>
    PendingLedger = 2,

    /// <summary>Reversed: the hold is voided, or was never placed.</summary>
    Reversed = 3,

    /// <summary>Approved without the ledger, and the ledger refused the hold later (e.g. funds): needs an operator.</summary>
    LedgerRefused = 4,

    /// <summary>Presented by clearing and posted: no longer reversible.</summary>
    Presented = 5,

    /// <summary>
    /// Approved if the ledger placed the hold: written while the hold was on its way to the
    /// ledger, so the two durable writes overlap. Whoever reads it asks the ledger whether the
    /// hold (its id derived from the key) exists: yes means <see cref="Held"/>, no means nothing
    /// was decided (the processor stopped, or the ledger refused or was late).
    /// </summary>
    HoldRequested = 6,

    /// <summary>
    /// Declined (or reversed) after a hold request whose outcome is unknown (the ledger did not
    /// answer in time): the hold may still commit, and must then end voided. The replayer voids
    /// it, and marks the record <see cref="Reversed"/> once the void is done or the hold has
    /// certainly never been placed. The response code is the one the scheme was given.
    /// </summary>
    VoidRequired = 7,
}

/// <summary>
/// The processor's durable memory: every decision, reversals that arrived before their
/// authorisation, and stand-in decisions waiting for the ledger. SQLite in WAL mode with
/// synchronous commits (<see cref="SqliteDatabase"/>): a row is on disk before the scheme hears the answer.
/// </summary>
/// <remarks>
/// Decisions on the authorisation path are written with group commit (<see cref="SaveAsync"/>):
/// one writer thread takes every decision queued while the previous commit was on its way to
/// disk and commits them in one transaction, so the disk's flush time (milliseconds) is paid once
/// per batch instead of once per authorisation, and each caller still hears back only after its
/// row is durable. Writes use a connection of their own, so reads (a WAL reader sees the last
/// commit) never wait for a flush.
/// </remarks>
internal sealed class CardJournal : IDisposable
{
    /// <summary>Decisions committed in one transaction at most.</summary>
    public const int SaveBatchMax = 1_024;

    /// <summary>Decisions waiting for the writer at most; beyond this <see cref="SaveAsync"/> waits for room.</summary>
    public const int SaveQueueMax = 16_384;

    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();
    private readonly SqliteConnection _writeConnection;
    private readonly Lock _writeLock = new();
    private readonly Channel<PendingSave> _saves = Channel.CreateBounded<PendingSave>(new BoundedChannelOptions(SaveQueueMax) { SingleReader = true });
    private readonly Thread _writer;

    public CardJournal(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Bulwark.Platform.Security.PrivateFiles.CreateDirectory(directory);
        }
        var database = new SqliteDatabase(path);
        _connection = database.Open();
        Execute("""
            CREATE TABLE IF NOT EXISTS decisions (
                key TEXT PRIMARY KEY,
                response_code TEXT NOT NULL,
                approval_code TEXT NOT NULL,
                hold_id TEXT NOT NULL,
                debit_account_id TEXT NOT NULL,
                amount INTEGER NOT NULL,
                currency TEXT NOT NULL,
                card_token TEXT NOT NULL,
                metadata TEXT NOT NULL,
                state INTEGER NOT NULL,
                rrn TEXT NOT NULL,
                updated_at_unix_ms INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS decisions_pending ON decisions(state) WHERE state = 2;
            CREATE INDEX IF NOT EXISTS decisions_void_required ON decisions(state) WHERE state = 7;
            CREATE INDEX IF NOT EXISTS decisions_rrn ON decisions(rrn);
            CREATE TABLE IF NOT EXISTS early_reversals (
                key TEXT PRIMARY KEY,
                received_at_unix_ms INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS presentments (
                presentment_id TEXT PRIMARY KEY,
                transfer_id TEXT NOT NULL,
                ingested_at_unix_ms INTEGER NOT NULL);
            """);
        _writeConnection = database.Open();
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "cards-journal-writer" };
        _writer.Start();
    }

    public void Dispose()
    {
        _saves.Writer.TryComplete();
        _writer.Join();
        _writeConnection.Dispose();
        _connection.Dispose();
    }

    /// <summary>Inserts or replaces the decision for its key; completes once it is durable (group commit).</summary>
    public Task SaveAsync(CardDecision decision, CancellationToken cancellationToken = default)
    {
        var pending = new PendingSave(decision, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (_saves.Writer.TryWrite(pending))
        {
            return pending.Durable.Task;
        }
        return QueueWhenRoomAsync(pending, cancellationToken);
    }

    private async Task QueueWhenRoomAsync(PendingSave pending, CancellationToken cancellationToken)
    {
        await _saves.Writer.WriteAsync(pending, cancellationToken);
        await pending.Durable.Task;
    }

    private void WriteLoop()
    {
        var batch = new List<PendingSave>(SaveBatchMax);
        var reader = _saves.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (batch.Count < SaveBatchMax && reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }
            try
            {
                lock (_writeLock)
                {
                    using var transaction = _writeConnection.BeginTransaction();
                    using var command = InsertCommand(_writeConnection);
                    command.Transaction = transaction;
                    foreach (var pending in batch)
                    {
                        Bind(command, pending.Decision);
                        command.ExecuteNonQuery();
                    }
                    transaction.Commit();
                }
                foreach (var pending in batch)
                {
                    pending.Durable.TrySetResult();
                }
            }
            catch (Exception error) when (error is SqliteException or IOException or InvalidOperationException)
            {
                // Nothing of the batch is committed: every caller hears of it, none is told "durable".
                foreach (var pending in batch)
                {
                    pending.Durable.TrySetException(error);
                }
            }
            batch.Clear();
        }
    }

    private sealed record PendingSave(CardDecision Decision, TaskCompletionSource Durable);

    public CardDecision? Find(string key)
    {
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT key, response_code, approval_code, hold_id, debit_account_id, amount, currency, card_token, metadata, state FROM decisions WHERE key = $key";
            command.Parameters.AddWithValue("$key", key);
            using var reader = command.ExecuteReader();
            return reader.Read() ? Read(reader) : null;
        }
    }

    /// <summary>Inserts or replaces the decision for its key, alone in its own transaction (off the authorisation path).</summary>
    public void Save(CardDecision decision)
    {
        lock (_writeLock)
        {
            using var command = InsertCommand(_writeConnection);
            Bind(command, decision);
            command.ExecuteNonQuery();
        }
    }

    private static SqliteCommand InsertCommand(SqliteConnection connection)
    {
        var command = connection.CreateCommand();
        command.CommandText = """
            INSERT OR REPLACE INTO decisions (key, response_code, approval_code, hold_id, debit_account_id, amount, currency, card_token, metadata, state, rrn, updated_at_unix_ms)
            VALUES ($key, $code, $approval, $hold, $debit, $amount, $currency, $token, $metadata, $state, $rrn, $now)
            """;
        foreach (var name in (string[])["$key", "$code", "$approval", "$hold", "$debit", "$amount", "$currency", "$token", "$metadata", "$state", "$rrn", "$now"])
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        return command;
    }

    private static void Bind(SqliteCommand command, CardDecision decision)
    {
        var parameters = command.Parameters;
        parameters["$key"].Value = decision.Key;
        parameters["$code"].Value = decision.ResponseCode;
        parameters["$approval"].Value = decision.ApprovalCode;
        parameters["$hold"].Value = Hex(decision.HoldId);
        parameters["$debit"].Value = Hex(decision.DebitAccountId);
        parameters["$amount"].Value = decision.Amount;
        parameters["$currency"].Value = decision.Currency;
        parameters["$token"].Value = decision.CardToken;
        parameters["$metadata"].Value = JsonSerializer.Serialize(decision.Metadata);
        parameters["$state"].Value = (int)decision.State;
        parameters["$rrn"].Value = decision.Key.Split(':')[1];
        parameters["$now"].Value = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    }

    public IReadOnlyList<CardDecision> PendingLedger(int limit) => InState(DecisionState.PendingLedger, limit);

    /// <summary>How many decisions wait for the ledger (<see cref="DecisionState.PendingLedger"/>): stand-in approvals and advices not yet posted.</summary>
    public long PendingLedgerCount()
    {
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            // The state as a literal, as in InState: the partial index then answers the count.
            command.CommandText = "SELECT count(*) FROM decisions WHERE state = " + ((int)DecisionState.PendingLedger).ToString(CultureInfo.InvariantCulture);
            return (long)command.ExecuteScalar()!;
        }
    }

    /// <summary>Declines whose possibly-placed hold must end voided (<see cref="DecisionState.VoidRequired"/>), oldest first, with when each was recorded.</summary>
    public IReadOnlyList<CardDecision> VoidsRequired(int limit) => InState(DecisionState.VoidRequired, limit);

    /// <summary>When the record for <paramref name="key"/> was last written (Unix ms), or null.</summary>
    public long? UpdatedAt(string key)
    {
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT updated_at_unix_ms FROM decisions WHERE key = $key";
            command.Parameters.AddWithValue("$key", key);
            return command.ExecuteScalar() is long value ? value : null;
        }
    }

    private List<CardDecision> InState(DecisionState state, int limit)
    {
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            // The state as a literal: only then can SQLite use the partial index for that state.
            command.CommandText = "SELECT key, response_code, approval_code, hold_id, debit_account_id, amount, currency, card_token, metadata, state FROM decisions WHERE state = "
                + ((int)state).ToString(CultureInfo.InvariantCulture) + " ORDER BY updated_at_unix_ms LIMIT $limit";
            command.Parameters.AddWithValue("$limit", limit);
            using var reader = command.ExecuteReader();
            var result = new List<CardDecision>();
            while (reader.Read())
            {
                result.Add(Read(reader));
            }
            return result;
        }
    }

    /// <summary>Approvals whose hold is in the ledger, unpresented, and last changed before <paramref name="cutoff"/>: oldest first.</summary>
    public IReadOnlyList<CardDecision> HeldBefore(DateTimeOffset cutoff, int limit)
    {
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT key, response_code, approval_code, hold_id, debit_account_id, amount, currency, card_token, metadata, state FROM decisions WHERE state IN (1, 6) AND updated_at_unix_ms < $cutoff ORDER BY updated_at_unix_ms LIMIT $limit";
            command.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$limit", limit);
            using var reader = command.ExecuteReader();
            var result = new List<CardDecision>();
            while (reader.Read())
            {
                result.Add(Read(reader));
            }
            return result;
        }
    }

    /// <summary>Finds an approved decision by RRN alone (clearing files carry no acquirer or STAN).</summary>
    public CardDecision? FindApprovedByRetrievalReference(string rrn)
    {
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT key, response_code, approval_code, hold_id, debit_account_id, amount, currency, card_token, metadata, state FROM decisions WHERE rrn = $rrn AND state IN (1, 2, 6) LIMIT 1";
            command.Parameters.AddWithValue("$rrn", rrn);
            using var reader = command.ExecuteReader();
            return reader.Read() ? Read(reader) : null;
        }
    }

    /// <summary>
    /// Up to <paramref name="limit"/> decisions with keys after <paramref name="afterKey"/> (null: from
    /// the first), in key order, each with when it was last written; only those last written in
    /// [<paramref name="fromUnixMs"/>, <paramref name="beforeUnixMs"/>) when those are above 0.
    /// </summary>
    public IReadOnlyList<(CardDecision Decision, long UpdatedAtUnixMs)> ListDecisions(string? afterKey, int limit, long fromUnixMs, long beforeUnixMs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            // The primary key's index serves the range and the order; the window filters within it.
            command.CommandText = "SELECT key, response_code, approval_code, hold_id, debit_account_id, amount, currency, card_token, metadata, state, updated_at_unix_ms FROM decisions " +
                "WHERE key > $after AND ($from <= 0 OR updated_at_unix_ms >= $from) AND ($before <= 0 OR updated_at_unix_ms < $before) ORDER BY key LIMIT $limit";
            command.Parameters.AddWithValue("$after", afterKey ?? "");
            command.Parameters.AddWithValue("$from", fromUnixMs);
            command.Parameters.AddWithValue("$before", beforeUnixMs);
            command.Parameters.AddWithValue("$limit", limit);
            using var reader = command.ExecuteReader();
            var result = new List<(CardDecision, long)>();
            while (reader.Read())
            {
                result.Add((Read(reader), reader.GetInt64(10)));
            }
            return result;
        }
    }

    /// <summary>Up to <paramref name="limit"/> posted presentments with ids after <paramref name="afterId"/> (null: from the first), in id order: (presentment id, transfer id, ingested at).</summary>
    public IReadOnlyList<(string PresentmentId, string TransferId, long IngestedAtUnixMs)> ListPresentments(string? afterId, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT presentment_id, transfer_id, ingested_at_unix_ms FROM presentments WHERE presentment_id > $after ORDER BY presentment_id LIMIT $limit";
            command.Parameters.AddWithValue("$after", afterId ?? "");
            command.Parameters.AddWithValue("$limit", limit);
            using var reader = command.ExecuteReader();
            var result = new List<(string, string, long)>();
            while (reader.Read())
            {
                result.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
            }
            return result;
        }
    }

    /// <summary>Remembers a reversal whose authorisation has not been seen; true when it is new.</summary>
    public bool RememberEarlyReversal(string key) =>
        ExecuteScalarCount("INSERT OR IGNORE INTO early_reversals (key, received_at_unix_ms) VALUES ($key, $now)", key) == 1;

    public bool HasEarlyReversal(string key)
    {
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT 1 FROM early_reversals WHERE key = $key";
            command.Parameters.AddWithValue("$key", key);
            return command.ExecuteScalar() is not null;
        }
    }

    /// <summary>Records a presentment as posted; false when its id was seen before.</summary>
    public bool RememberPresentment(string presentmentId, UInt128 transferId)
    {
        lock (_writeLock)
        {
            using var command = _writeConnection.CreateCommand();
            command.CommandText = "INSERT OR IGNORE INTO presentments (presentment_id, transfer_id, ingested_at_unix_ms) VALUES ($id, $transfer, $now)";
            command.Parameters.AddWithValue("$id", presentmentId);
            command.Parameters.AddWithValue("$transfer", Hex(transferId));
            command.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            return command.ExecuteNonQuery() == 1;
        }
    }

    public bool HasPresentment(string presentmentId)
    {
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT 1 FROM presentments WHERE presentment_id = $id";
            command.Parameters.AddWithValue("$id", presentmentId);
            return command.ExecuteScalar() is not null;
        }
    }

    internal static string Hex(UInt128 value) => value.ToString("x32", CultureInfo.InvariantCulture);

    internal static UInt128 ParseHex(string hex) => UInt128.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    private int ExecuteScalarCount(string sql, string key)
    {
        lock (_writeLock)
        {
            using var command = _writeConnection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$key", key);
            command.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            return command.ExecuteNonQuery();
        }
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static CardDecision Read(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        ParseHex(reader.GetString(3)),
        ParseHex(reader.GetString(4)),
        reader.GetInt64(5),
        reader.GetString(6),
        reader.GetString(7),
        JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(8)) ?? [],
        (DecisionState)reader.GetInt32(9));
}
