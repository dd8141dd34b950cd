using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;
using Bulwark.Storage.Postgres;
using Bulwark.Storage.Sqlite;
using Npgsql;

namespace Bulwark.Ledger.Tests.Storage;

/// <summary>PostgreSQL-only behaviour: bad connection strings, schema versions, writer exclusion and fencing, a lost connection.</summary>
public sealed class PostgresLedgerStoreTests
{
    [Fact]
    public void UnreachableServer_OneClearError_NamingTheServer()
    {
        var port = PostgresTestServer.Instance.Port;
        // A port nothing listens on: the fixture's port plus one is not guaranteed free, so ask the OS.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var closed = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var store = new PostgresLedgerStore($"Host=127.0.0.1;Port={closed};Username=postgres;Database=nowhere;Timeout=3");
        var error = Assert.Throws<StorageOpenException>(() => store.Open(4));
        Assert.Contains($"127.0.0.1:{closed}/nowhere", error.Message, StringComparison.Ordinal);
        Assert.NotEqual(port, closed);
    }

    [Fact]
    public void MissingDatabase_OneClearError()
    {
        var builder = new NpgsqlConnectionStringBuilder(PostgresTestServer.Instance.ConnectionString()) { Database = "no_such_db" };
        using var store = new PostgresLedgerStore(builder.ConnectionString);
        var error = Assert.Throws<StorageOpenException>(() => store.Open(4));
        Assert.Contains("no_such_db", error.Message, StringComparison.Ordinal);
        Assert.Contains("3D000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SchemaFromANewerVersion_Refused_SayingWhy()
    {
        var database = PostgresTestServer.NewDatabase("newer");
        using (var store = new PostgresLedgerStore(database))
        {
            store.Open(4);
        }
        Execute(database, "UPDATE ledger.schema_version SET version = 99");
        using var again = new PostgresLedgerStore(database);
        var error = Assert.Throws<SchemaTooNewException>(() => again.Open(4));
        Assert.Contains("99", error.Message, StringComparison.Ordinal);
        Assert.Contains("newer than this build knows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SecondWriter_IsRefusedWhileTheFirstLives_AndTakesOverAfter()
    {
        var database = PostgresTestServer.NewDatabase("writers");
        using (var first = new PostgresLedgerStore(database))
        {
            first.Open(4);
            using var second = new PostgresLedgerStore(database);
            var error = Assert.Throws<LedgerStoreUnavailableException>(() => second.Open(4));
            Assert.Contains("Another ledger writer", error.Message, StringComparison.Ordinal);
        }
        using var third = new PostgresLedgerStore(database);
        third.Open(4);
        Assert.Empty(third.LoadAccounts());
    }

    [Fact]
    public void WriterThatLostItsSession_IsFenced_WhenAnotherTookOver()
    {
        var database = PostgresTestServer.NewDatabase("fence");
        using var first = new PostgresLedgerStore(database);
        first.Open(4);
        first.Commit(NewAccount(1));
        // The first writer's session dies (network cut, server restart): its lock is gone.
        var firstProcess = first.WriterProcessId;
        Execute(database, $"SELECT pg_terminate_backend({firstProcess})");
        WaitUntilGone(database, firstProcess);
        using var second = new PostgresLedgerStore(database);
        second.Open(4);
        Assert.True(second.WriterEpoch > 1);
        second.Commit(NewAccount(2));

        // The first writer may not write on its old cache, nor reconnect while the second lives.
        Assert.ThrowsAny<Exception>(() => first.Commit(NewAccount(3)));
        var refused = Assert.Throws<LedgerStoreUnavailableException>(() => first.LoadAccounts());
        Assert.Contains("Another ledger writer", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, second.LoadAccounts().Count);
    }

    [Fact]
    public void EpochFence_RejectsABatchFromAStaleEpoch_WritingNothing()
    {
        var database = PostgresTestServer.NewDatabase("epoch");
        using var store = new PostgresLedgerStore(database);
        store.Open(4);
        // Someone else moved the epoch on (a writer that took over and left).
        Execute(database, "UPDATE ledger.ledger_meta SET value = value + 1 WHERE key = 'writer_epoch'");
        var error = Assert.Throws<LedgerStoreUnavailableException>(() => store.Commit(NewAccount(5)));
        Assert.Contains("fenced", error.Message, StringComparison.Ordinal);
        // Reloading takes a fresh epoch (the lock is still ours once the old session is closed).
        Assert.Empty(store.LoadAccounts());
        store.Commit(NewAccount(5));
        Assert.Single(store.LoadAccounts());
    }

    [Fact]
    public async Task ConnectionLostMidBatch_CallerGetsRetriableError_NothingHalfWritten_RetrySucceedsOnce()
    {
        var database = PostgresTestServer.NewDatabase("lost");
        PostgresLedgerStore? inner = null;
        HookedStore? hooked = null;
        var ledger = await TestLedger.StartAsync(wrapStore: store => hooked = new HookedStore(inner = (PostgresLedgerStore)store), postgres: database);
        try
        {
            var a = await ledger.AccountAsync(1);
            var b = await ledger.AccountAsync(2);
            var cut = true;
            hooked!.BeforeCommit = _ =>
            {
                if (cut)
                {
                    cut = false;
                    Execute(database, $"SELECT pg_terminate_backend({inner!.WriterProcessId})");
                }
            };
            var batch = Enumerable.Range(0, 50).Select(i => TestLedger.Transfer(100 + i, a, b, 10)).ToArray();
            var failed = await Assert.ThrowsAsync<LedgerUnavailableException>(() => ledger.Engine.SubmitAsync(batch));
            Assert.Contains("retrying with the same ids is safe", failed.Message, StringComparison.Ordinal);
            Assert.Empty(await ledger.Engine.GetTransfersAsync(batch.Select(t => t.Id).ToArray()));

            var retried = await ledger.Engine.SubmitAsync(batch);
            Assert.All(retried, r => Assert.Equal(TransferStatus.Ok, r.Status));
            Assert.Equal(500, (await ledger.GetAccountAsync(a)).DebitsPosted);
            var report = ledger.Check();
            Assert.True(report.Ok, string.Join(Environment.NewLine, report.Problems));
            Assert.Equal(50, report.TransferCount);
        }
        finally
        {
            await ledger.DisposeAsync();
        }
    }

    [Fact]
    public void InitialiseCell_ByAWriterAnotherTookOverFrom_FencedWritingNothing()
    {
        var database = PostgresTestServer.NewDatabase("cellfence");
        using var store = new PostgresLedgerStore(database);
        store.Open(4);
        // Another writer took over (and left): this one's cache and epoch are stale.
        Execute(database, "UPDATE ledger.ledger_meta SET value = value + 1 WHERE key = 'writer_epoch'");

        var error = Assert.Throws<LedgerStoreUnavailableException>(() => store.InitialiseCell("cell-a", "", [0, 1, 2, 3]));
        Assert.Contains("fenced", error.Message, StringComparison.Ordinal);
        Assert.Equal(0L, Scalar<long>(database, "SELECT count(*) FROM ledger.cell_identity") + Scalar<long>(database, "SELECT count(*) FROM ledger.partition_owners"));

        // Reloading takes a fresh epoch, as before a batch; then the cell is made.
        Assert.Empty(store.LoadAccounts());
        store.InitialiseCell("cell-a", "", [0, 1, 2, 3]);
        Assert.Equal(4, store.LoadCell()!.Ownership.Count);
    }

    [Fact]
    public void MoveSteps_ByAWriterAnotherTookOverFrom_FencedWritingNothing()
    {
        var database = PostgresTestServer.NewDatabase("movefence");
        using var store = new PostgresLedgerStore(database);
        store.Open(4);
        store.Commit(NewAccount(1));
        store.InitialiseCell("cell-a", "", [1]);
        var import = new PartitionImportRecord(3, "cell-b", 1, 9, ImportRecordState.Copying, []);
        var rows = new PartitionRowSet(
            [new LedgerAccount { Id = 30, Currency = "GBP", Code = 1 }],
            [new LedgerTransfer { Id = 31, Sequence = 1, DebitAccountId = 30, CreditAccountId = 30, Amount = 1, Currency = "GBP", State = TransferState.Posted }],
            [], [], 9, More: false);

        // Each step by a writer whose epoch another writer moved on fails whole, as a batch would.
        AssertFenced(() => store.SaveMoveStep(new MoveStep
        {
            Owner = new PartitionOwnership(1, 1, OwnershipState.Moving, "cell-b", 2, 5_000),
            Import = import,
        }));
        AssertFenced(() => store.ImportPartitionRows(3, rows, import));
        AssertFenced(() => store.DeletePartitionRows(1, 10));

        var record = store.LoadCell()!;
        Assert.Equal([new PartitionOwnership(1, 1, OwnershipState.Owned, "", 0)], record.Ownership);
        Assert.Empty(record.Imports);
        Assert.Equal([(UInt128)1], store.LoadAccounts().Select(account => account.Id));
        Assert.Equal(0L, Scalar<long>(database, "SELECT count(*) FROM ledger.transfers"));

        // Reloaded, the same writer writes them.
        store.ImportPartitionRows(3, rows, import);
        Assert.Equal(9, Assert.Single(store.LoadCell()!.Imports).Watermark);
        Assert.NotNull(store.FindTransfer(31));

        void AssertFenced(Action step)
        {
            Execute(database, "UPDATE ledger.ledger_meta SET value = value + 1 WHERE key = 'writer_epoch'");
            var error = Assert.Throws<LedgerStoreUnavailableException>(step);
            Assert.Contains("fenced", error.Message, StringComparison.Ordinal);
            // The writer reloads before writing again: a fresh epoch, as after a failed batch.
            store.LoadAccounts();
        }
    }

    [Fact]
    public void InitialiseCell_PartitionOutsideTheCountOrTwice_RefusedBeforeWriting()
    {
        using var store = new PostgresLedgerStore(PostgresTestServer.NewDatabase("cellargs"));
        store.Open(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.InitialiseCell("cell-a", "", [0, 4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.InitialiseCell("cell-a", "", [1, 1]));
        Assert.Null(store.LoadCell());
    }

    [Fact]
    public void OwedLeg_StoresBothPartitions_AndASecondSettlementKeepsTheFirst()
    {
        var database = PostgresTestServer.NewDatabase("owed");
        using var store = new PostgresLedgerStore(database);
        store.Open(16);
        UInt128 debit = 1, credit = 2;
        var leg = new LedgerTransfer { Id = 9, DebitAccountId = debit, CreditAccountId = credit, Amount = 5, Currency = "GBP", Code = 1, TimestampUnixMs = 1_000, Leg = TransferLeg.Credit };
        var commit = new LedgerCommit();
        commit.NewOwedLegs.Add(new OwedCreditLeg(LedgerPartitioner.PartitionOf(debit, 16), leg, OwedLegState.Owed));
        store.Commit(commit);
        var delivered = new LedgerCommit();
        delivered.SettledOwedLegs.Add((9, OwedLegState.Delivered));
        store.Commit(delivered);
        var returned = new LedgerCommit();
        returned.SettledOwedLegs.Add((9, OwedLegState.Returned));
        store.Commit(returned);

        Assert.Equal(
            $"{LedgerPartitioner.PartitionOf(debit, 16)} {LedgerPartitioner.PartitionOf(credit, 16)} {(int)OwedLegState.Delivered}",
            Scalar<string>(database, "SELECT partition || ' ' || credit_partition || ' ' || state FROM ledger.credit_legs_owed"));
    }

    [Theory]
    [InlineData("postgres://app@db.internal:6543/bank", "Host=db.internal;Port=6543;Database=bank;Username=app")]
    [InlineData("postgresql://app:s%40cret@127.0.0.1/bank?sslmode=disable", "Host=127.0.0.1;Port=5432;Database=bank;Username=app;Password=s@cret;SSL Mode=Disable")]
    public void Url_ParsesToConnectionString(string url, string expected)
    {
        var parsed = new NpgsqlConnectionStringBuilder(PostgresConnections.ConnectionStringFromUrl(url));
        var wanted = new NpgsqlConnectionStringBuilder(expected);
        Assert.True(parsed.EquivalentTo(wanted), parsed.ConnectionString);
    }

    [Theory]
    [InlineData("postgres://app@host")]
    [InlineData("postgres:///bank")]
    [InlineData("mysql://app@host/bank")]
    [InlineData("postgres://app@host/bank?nonsense=1")]
    public void BadUrl_FormatException_SayingWhatIsExpected(string url)
    {
        var error = Assert.Throws<FormatException>(() => PostgresConnections.ConnectionStringFromUrl(url));
        Assert.Contains("postgres", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Redact_HidesThePassword()
    {
        Assert.Equal("postgres://app:***@h/db", PostgresConnections.Redact("postgres://app:hunter2@h/db"));
    }

    private static LedgerCommit NewAccount(int id)
    {
        var commit = new LedgerCommit();
        commit.NewAccounts.Add(new(1, new LedgerAccount { Id = (UInt128)id, Currency = "GBP", Code = 1 }));
        return commit;
    }

    /// <summary>
    /// pg_terminate_backend only signals: the session (and its advisory lock) ends a moment later.
    /// Waits, bounded, until the server no longer lists it.
    /// </summary>
    private static void WaitUntilGone(string connectionString, int processId)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand($"SELECT count(*) FROM pg_stat_activity WHERE pid = {processId}", connection);
        for (var attempt = 0; attempt < 200 && (long)command.ExecuteScalar()! > 0; attempt++)
        {
            Thread.Sleep(50);
        }
    }

    private static T Scalar<T>(string connectionString, string sql)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return (T)command.ExecuteScalar()!;
    }

    private static void Execute(string connectionString, string sql)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }
}
