using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;
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
        using (var store = new SqliteLedgerStore(path))
        {
            store.Open(4);
            store.Commit(ThreeTransfers());
        }
        // Back to schema version 1, whose history indexes named the sequence explicitly.
        Execute(path,
            "DROP INDEX transfers_debit; CREATE INDEX transfers_debit ON transfers (debit_account_id, sequence);" +
            "DROP INDEX transfers_credit; CREATE INDEX transfers_credit ON transfers (credit_account_id, sequence);" +
            "UPDATE schema_version SET version = 1 WHERE store = 'ledger'");

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
        Assert.Equal(2L, Scalar<long>(path, "SELECT version FROM schema_version WHERE store = 'ledger'"));
        Assert.True(LedgerChecker.Check(path).Ok);
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
