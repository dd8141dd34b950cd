using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Ledger.Tests.Storage;

/// <summary>SQLite-only behaviour: the page size of new and existing databases, schema upgrades.</summary>
public sealed class SqliteLedgerStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new(inMemory: true);

    [Fact]
    public void NewDatabase_GetsLargePages_AndWal()
    {
        var path = _directory.File("new.db");
        using (var store = new SqliteLedgerStore(path))
        {
            store.Open(4);
        }

        Assert.Equal((8_192L, "wal"), (Pragma<long>(path, "page_size"), Pragma<string>(path, "journal_mode")));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void NewDatabase_FileWalAndSharedMemory_OwnerOnly()
    {
        var path = _directory.File("private.db");
        using var store = new SqliteLedgerStore(path);
        store.Open(4);

        // Read while open: the -wal and -shm files go when the last connection closes.
        var modes = new[] { path, path + "-wal", path + "-shm" }.Select(file => (file, File.GetUnixFileMode(file))).ToList();

        Assert.All(modes, entry => Assert.Equal((entry.file, UnixFileMode.UserRead | UnixFileMode.UserWrite), entry));
    }

    [Fact]
    public void ExistingDatabaseWithDefaultPages_OpensAndKeepsThem()
    {
        var path = _directory.File("old.db");
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE unrelated (x INTEGER)";
            command.ExecuteNonQuery();
        }

        using (var store = new SqliteLedgerStore(path))
        {
            store.Open(4);
            Assert.Empty(store.LoadAccounts());
        }

        Assert.Equal(4_096L, Pragma<long>(path, "page_size"));
    }

    [Fact]
    public async Task VersionOneDatabase_HistoryIndexesMigrated_ListingUnchanged()
    {
        var path = _directory.File("v1.db");
        // A database made by schema version 1, whose history indexes named the sequence explicitly
        // and whose transfers had no legs, with three transfers in it.
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            SqliteMigrator.Apply(connection, SqliteLedgerSchema.StoreName, SqliteLedgerSchema.Migrations.Take(1).ToArray());
        }
        Execute(path,
            "INSERT INTO ledger_meta (key, value) VALUES ('partition_count', 4);" +
            "INSERT INTO accounts VALUES (X'00000000000000000000000000000001', 0, 'GBP', 0, 0, 1, 0, 20, 0, 10, 1000);" +
            "INSERT INTO accounts VALUES (X'00000000000000000000000000000002', 0, 'GBP', 0, 0, 1, 0, 10, 0, 20, 1000);" +
            "INSERT INTO transfers (sequence, id, partition, debit_account_id, credit_account_id, amount, currency, pending_id, flags, timeout_seconds, code, metadata, timestamp, state, posted_amount, expires_at) VALUES " +
            "(1, X'00000000000000000000000000000065', 0, X'00000000000000000000000000000001', X'00000000000000000000000000000002', 10, 'GBP', NULL, 0, 0, 3, NULL, 1001, 1, 0, 0)," +
            "(2, X'00000000000000000000000000000066', 0, X'00000000000000000000000000000002', X'00000000000000000000000000000001', 10, 'GBP', NULL, 0, 0, 3, NULL, 1002, 1, 0, 0)," +
            "(3, X'00000000000000000000000000000067', 0, X'00000000000000000000000000000001', X'00000000000000000000000000000002', 10, 'GBP', NULL, 0, 0, 3, NULL, 1003, 1, 0, 0)");
        Assert.Equal(["debit_account_id", "sequence"], IndexColumns(path, "transfers_debit"));

        using (var store = new SqliteLedgerStore(path))
        {
            store.Open(4);
            var newestFirst = await store.ListAccountTransfersAsync(1, long.MaxValue, 0, 10, CancellationToken.None);
            Assert.Equal([3L, 2L, 1L], newestFirst.Select(transfer => transfer.Sequence));
            var below = await store.ListAccountTransfersAsync(2, 3, 0, 10, CancellationToken.None);
            Assert.Equal([2L, 1L], below.Select(transfer => transfer.Sequence));
        }

        Assert.Equal(["debit_account_id"], IndexColumns(path, "transfers_debit"));
        Assert.Equal(["credit_account_id"], IndexColumns(path, "transfers_credit"));
        Assert.Equal((long)SqliteLedgerSchema.Migrations.Count, Scalar<long>(path, "SELECT version FROM schema_version WHERE store = 'ledger'"));
        // Every row from before cells is a WHOLE row, and rows are unique by id and leg.
        Assert.Equal(0L, Scalar<long>(path, "SELECT count(*) FROM transfers WHERE leg <> 0"));
        Assert.True(LedgerChecker.Check(path).Ok);
    }

    [Fact]
    public void SecondWriter_OnTheSameFile_RefusedNamingTheFirst_UntilTheFirstCloses()
    {
        var path = _directory.File("ledger.db");
        var first = new SqliteLedgerStore(path);
        first.Open(16);

        using (var second = new SqliteLedgerStore(path))
        {
            var error = Assert.Throws<InvalidOperationException>(() => second.Open(16));
            Assert.True(error.Message.Contains($"Another process is writing the ledger store {path} (pid {Environment.ProcessId}", StringComparison.Ordinal), error.Message);
        }

        first.Dispose();
        using var third = new SqliteLedgerStore(path);
        third.Open(16);
        Assert.Empty(third.LoadAccounts());
    }

    public void Dispose() => _directory.Dispose();

    /// <summary>Accounts 1 and 2 and three posted transfers between them (sequences 1 to 3).</summary>
    private static LedgerCommit ThreeTransfers()
    {
        var commit = new LedgerCommit();
        commit.NewAccounts.Add(new(0, new LedgerAccount { Id = 1, Currency = "GBP", Code = 1 }));
        commit.NewAccounts.Add(new(0, new LedgerAccount { Id = 2, Currency = "GBP", Code = 1 }));
        for (var sequence = 1; sequence <= 3; sequence++)
        {
            var debit = sequence == 2 ? 2 : 1;
            commit.NewTransfers.Add(new(0, new LedgerTransfer
            {
                Id = (UInt128)(100 + sequence),
                Sequence = sequence,
                DebitAccountId = (UInt128)debit,
                CreditAccountId = (UInt128)(3 - debit),
                Amount = 10,
                Currency = "GBP",
                Code = 3,
                TimestampUnixMs = 1_000 + sequence,
                State = Protos.TransferState.Posted,
            }));
        }
        commit.Balances.Add(new LedgerAccount { Id = 1, Currency = "GBP", Code = 1, DebitsPosted = 20, CreditsPosted = 10 });
        commit.Balances.Add(new LedgerAccount { Id = 2, Currency = "GBP", Code = 1, DebitsPosted = 10, CreditsPosted = 20 });
        return commit;
    }

    private static void Execute(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static T Scalar<T>(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False;Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static List<string> IndexColumns(string path, string index)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False;Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT name FROM pragma_index_info('{index}') ORDER BY seqno";
        using var reader = command.ExecuteReader();
        var columns = new List<string>();
        while (reader.Read())
        {
            columns.Add(reader.GetString(0));
        }
        return columns;
    }

    private static T Pragma<T>(string path, string name) => Scalar<T>(path, "PRAGMA " + name);
}
