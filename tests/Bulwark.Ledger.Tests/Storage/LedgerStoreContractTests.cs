using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;

namespace Bulwark.Ledger.Tests.Storage;

/// <summary>SQLite runs the store contract.</summary>
public sealed class SqliteLedgerStoreContractTests : LedgerStoreContractTests, IDisposable
{
    private readonly TempDirectory _directory = new(inMemory: true);
    private int _databases;

    protected override string NewLocation() => _directory.File($"ledger-{++_databases}.db");

    protected override ILedgerStore OpenStore(string location) => new SqliteLedgerStore(location);

    protected override LedgerCheckReport Check(string location) => LedgerChecker.Check(location);

    public void Dispose() => _directory.Dispose();
}

/// <summary>PostgreSQL runs the same store contract.</summary>
public sealed class PostgresLedgerStoreContractTests : LedgerStoreContractTests
{
    protected override string NewLocation() => PostgresTestServer.NewDatabase("contract");

    protected override ILedgerStore OpenStore(string location) => new PostgresLedgerStore(location);

    protected override LedgerCheckReport Check(string location) => LedgerChecker.CheckPostgres(location);
}

/// <summary>
/// What every <see cref="ILedgerStore"/> must do, whatever the database: the rows a batch writes
/// come back exactly, a batch is all or nothing, readers see committed batches, the schema is
/// created on an empty database and reopened as it is, and a partition count change is refused.
/// </summary>
public abstract class LedgerStoreContractTests
{
    private const int Partitions = 16;
    private static readonly UInt128 A = (UInt128)1 << 100 | 7;
    private static readonly UInt128 B = 2;
    private static readonly UInt128 C = UInt128.MaxValue;

    protected abstract string NewLocation();

    protected abstract ILedgerStore OpenStore(string location);

    protected abstract LedgerCheckReport Check(string location);

    [Fact]
    public void EmptyDatabase_Open_CreatesSchemaAndIsEmpty()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        Assert.Empty(store.LoadAccounts());
        Assert.Equal(new LedgerWriterPosition(0, 0), store.LoadPosition());
        Assert.Null(store.FindTransfer(A));
    }

    [Fact]
    public void Commit_ProbeOnly_CommitsAndChangesNoLedgerRow()
    {
        var location = NewLocation();
        using var store = OpenStore(location);
        store.Open(Partitions);
        store.Commit(AccountsAndTransfers());
        var accounts = store.LoadAccounts().OrderBy(a => a.Id).ToList();
        var position = store.LoadPosition();

        store.Commit(new LedgerCommit { ProbeAtUnixMs = 1_700_000_000_000 });
        store.Commit(new LedgerCommit { ProbeAtUnixMs = 1_700_000_001_000 });

        Assert.Equal(accounts, store.LoadAccounts().OrderBy(a => a.Id).ToList());
        Assert.Equal(position, store.LoadPosition());
        Assert.True(Check(location).Ok);
    }

    [Fact]
    public async Task Commit_RowsComeBackExactly_ToWriterAndReaders()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(AccountsAndTransfers());

        var accounts = store.LoadAccounts().OrderBy(a => a.Id).ToList();
        Assert.Equal([B, A, C], accounts.Select(a => a.Id));
        var a = accounts.Single(x => x.Id == A);
        Assert.Equal(("GBP", AccountFlags.DebitsMustNotExceedCredits, 50L, 9u, 100L, 5L, 1_000L), (a.Currency, a.Flags, a.OverdraftLimit, a.Code, a.DebitsPosted, a.DebitsPending, a.CreatedAtUnixMs));
        Assert.Equal(new LedgerWriterPosition(2, 2_000), store.LoadPosition());

        var transfer = store.FindTransfer(10);
        Assert.NotNull(transfer);
        Assert.Equal((1L, A, B, 100L, "GBP", "x", TransferState.Posted), (transfer.Sequence, transfer.DebitAccountId, transfer.CreditAccountId, transfer.Amount, transfer.Currency, transfer.Metadata["k"], transfer.State));
        var hold = store.FindTransfer(11)!;
        Assert.Equal((TransferState.Pending, 5_000L, UInt128.Zero, 0), (hold.State, hold.ExpiresAtUnixMs, hold.PendingId, hold.Metadata.Count));

        var read = await store.GetAccountsAsync([C, 999, A], CancellationToken.None);
        Assert.Equal([C, A], read.Select(x => x.Id));
        var transfers = await store.GetTransfersAsync([11, 10, 12], CancellationToken.None);
        Assert.Equal([(UInt128)11, 10], transfers.Select(t => t.Id));
        var history = await store.ListAccountTransfersAsync(A, long.MaxValue, 0, 10, CancellationToken.None);
        Assert.Equal([2L, 1L], history.Select(t => t.Sequence));
        Assert.Single(await store.ListAccountTransfersAsync(A, 2, 0, 10, CancellationToken.None));
        Assert.Single(await store.ListAccountTransfersAsync(A, long.MaxValue, 1_500, 10, CancellationToken.None));
        Assert.Single(await store.ListAccountTransfersAsync(B, long.MaxValue, 0, 10, CancellationToken.None));
    }

    [Fact]
    public async Task GetAccounts_BatchCommitsBetweenTwoIds_AnswerIsOneCommittedState()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(AccountsAndTransfers());
        var accounts = store.LoadAccounts().ToDictionary(account => account.Id);
        // B pays the 100 back to A in a batch that commits after A is read and before B is.
        var payBack = new LedgerCommit();
        payBack.NewTransfers.Add(new(4, Transfer(20, 3, B, A, 100)));
        payBack.Balances.Add(accounts[A] with { CreditsPosted = 100 });
        payBack.Balances.Add(accounts[B] with { DebitsPosted = 100 });
        var ids = new CallbackList([A, B], beforeIndex: 1, () => store.Commit(payBack));

        var read = (await store.GetAccountsAsync(ids, CancellationToken.None)).ToDictionary(account => account.Id);

        Assert.Equal(100, store.LoadAccounts().Single(account => account.Id == B).DebitsPosted);
        var seen = (read[A].CreditsPosted, read[B].DebitsPosted);
        Assert.True(seen is (0, 0) or (100, 100), $"A credited {seen.Item1} and B debited {seen.Item2}: no committed state had that");
    }

    [Fact]
    public async Task GetTransfers_BatchCommitsBetweenTwoIds_AnswerIsOneCommittedState()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(AccountsAndTransfers());
        var accounts = store.LoadAccounts().ToDictionary(account => account.Id);
        // Hold 11 is posted by transfer 20 in a batch that commits after 11 is read and before 20 is.
        var post = new LedgerCommit();
        post.NewTransfers.Add(new(3, Transfer(20, 3, A, C, 5) with { PendingId = 11, Flags = TransferFlags.PostPending }));
        post.ChangedHolds.Add(store.FindTransfer(11)! with { State = TransferState.Posted, PostedAmount = 5 });
        post.Balances.Add(accounts[A] with { DebitsPending = 0, DebitsPosted = 105 });
        post.Balances.Add(accounts[C] with { CreditsPending = 0, CreditsPosted = 5 });
        var ids = new CallbackList([11, 20], beforeIndex: 1, () => store.Commit(post));

        var read = await store.GetTransfersAsync(ids, CancellationToken.None);

        Assert.NotNull(store.FindTransfer(20));
        var hold = Assert.Single(read, transfer => transfer.Id == 11);
        var posted = read.Any(transfer => transfer.Id == 20);
        Assert.True(posted == (hold.State == TransferState.Posted), $"hold {hold.State} beside its post {(posted ? "present" : "absent")}: no committed state had that");
    }

    [Fact]
    public void ChangedHold_And_ExpiredHolds()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(AccountsAndTransfers());
        Assert.Single(store.FindExpiredHolds(5_000, 10, []));
        Assert.Empty(store.FindExpiredHolds(4_999, 10, []));

        var commit = new LedgerCommit();
        commit.ChangedHolds.Add(store.FindTransfer(11)! with { State = TransferState.Expired });
        commit.Balances.Add(store.LoadAccounts().Single(a => a.Id == A) with { DebitsPending = 0 });
        commit.Balances.Add(store.LoadAccounts().Single(a => a.Id == C) with { CreditsPending = 0 });
        store.Commit(commit);
        Assert.Equal(TransferState.Expired, store.FindTransfer(11)!.State);
        Assert.Empty(store.FindExpiredHolds(10_000, 10, []));
    }

    [Fact]
    public void FailedCommit_WritesNothing_AndTheStoreKeepsWorking()
    {
        var location = NewLocation();
        using var store = OpenStore(location);
        store.Open(Partitions);
        store.Commit(AccountsAndTransfers());

        // A batch whose last row breaks the id's uniqueness: its earlier rows must not stay.
        var bad = new LedgerCommit();
        bad.NewAccounts.Add(new(1, new LedgerAccount { Id = 77, Currency = "GBP", Code = 1 }));
        bad.NewTransfers.Add(new(1, Transfer(20, 3, B, A, 1)));
        bad.NewTransfers.Add(new(1, Transfer(10, 4, B, A, 1)));
        Assert.ThrowsAny<Exception>(() => store.Commit(bad));

        // Writer methods after a failure: the engine reloads first, as it does here.
        Assert.Equal(3, store.LoadAccounts().Count);
        Assert.Equal(new LedgerWriterPosition(2, 2_000), store.LoadPosition());
        Assert.Null(store.FindTransfer(20));

        var good = new LedgerCommit();
        good.NewTransfers.Add(new(1, Transfer(20, 3, B, A, 1)));
        good.Balances.Add(store.LoadAccounts().Single(a => a.Id == B) with { DebitsPosted = 1 });
        good.Balances.Add(store.LoadAccounts().Single(a => a.Id == A) with { CreditsPosted = 1 });
        store.Commit(good);
        Assert.Equal(3, store.LoadPosition().Sequence);
    }

    [Fact]
    public void Reopen_KeepsEverything_AndRefusesAnotherPartitionCount()
    {
        var location = NewLocation();
        using (var store = OpenStore(location))
        {
            store.Open(Partitions);
            store.Commit(AccountsAndTransfers());
        }
        using (var again = OpenStore(location))
        {
            again.Open(Partitions);
            Assert.Equal(3, again.LoadAccounts().Count);
            Assert.Equal(2, again.LoadPosition().Sequence);
        }
        using var other = OpenStore(location);
        var error = Assert.Throws<InvalidOperationException>(() => other.Open(Partitions * 2));
        Assert.Contains("partitions", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Engine_OnThisStore_TransfersHoldsAndRestart_CheckerClean()
    {
        var location = NewLocation();
        var options = new LedgerOptions { DatabasePath = "unused", PartitionCount = Partitions, ExpirySweepInterval = TimeSpan.FromHours(1) };
        await using (var engine = new LedgerEngine(options, OpenStore(location)))
        {
            await engine.StartAsync();
            await engine.CreateAccountsAsync([Account(1), Account(2), Account(3)]);
            var results = await engine.SubmitAsync(Enumerable.Range(0, 200).Select(i => TestLedger.Transfer(100 + i, 1, (UInt128)(2 + i % 2), 1 + i)).ToArray());
            Assert.All(results, r => Assert.Equal(TransferStatus.Ok, r.Status));
            Assert.Equal(TransferStatus.Ok, (await engine.SubmitAsync([TestLedger.Transfer(1_000, 2, 1, 50, TransferFlags.Pending)]))[0].Status);
            Assert.Equal(TransferStatus.Ok, (await engine.SubmitAsync([TestLedger.Post(1_001, 1_000, 20)]))[0].Status);
            Assert.True((await engine.SubmitAsync([TestLedger.Transfer(100, 1, 2, 1)]))[0].Duplicate);
        }
        await using (var engine = new LedgerEngine(options, OpenStore(location)))
        {
            await engine.StartAsync();
            var one = Assert.Single(await engine.GetAccountsAsync([1]));
            Assert.Equal(Enumerable.Range(1, 200).Sum() - 20, one.DebitsPosted - one.CreditsPosted);
            Assert.True((await engine.SubmitAsync([TestLedger.Post(1_002, 1_000)]))[0].Status != TransferStatus.Ok);
        }
        var report = Check(location);
        Assert.True(report.Ok, string.Join(Environment.NewLine, report.Problems));
        Assert.Equal((3L, 202L), (report.AccountCount, report.TransferCount));
    }

    private static LedgerAccount Account(int id) => new() { Id = (UInt128)id, Currency = TestLedger.Currency, Code = 1 };

    private static LedgerTransfer Transfer(UInt128 id, long sequence, UInt128 debit, UInt128 credit, long amount) => new()
    {
        Id = id,
        Sequence = sequence,
        DebitAccountId = debit,
        CreditAccountId = credit,
        Amount = amount,
        Currency = "GBP",
        Code = 3,
        TimestampUnixMs = 2_000 + sequence,
        State = TransferState.Posted,
    };

    /// <summary>Three accounts, a posted transfer A to B and a pending hold A to C.</summary>
    private static LedgerCommit AccountsAndTransfers()
    {
        var commit = new LedgerCommit();
        commit.NewAccounts.Add(new(3, new LedgerAccount { Id = A, Currency = "GBP", Flags = AccountFlags.DebitsMustNotExceedCredits, OverdraftLimit = 50, Code = 9, CreatedAtUnixMs = 1_000 }));
        commit.NewAccounts.Add(new(4, new LedgerAccount { Id = B, Currency = "GBP", Code = 1, CreatedAtUnixMs = 1_000 }));
        commit.NewAccounts.Add(new(5, new LedgerAccount { Id = C, Currency = "GBP", Code = 1, CreatedAtUnixMs = 1_000 }));
        commit.NewTransfers.Add(new(3, new LedgerTransfer
        {
            Id = 10,
            Sequence = 1,
            DebitAccountId = A,
            CreditAccountId = B,
            Amount = 100,
            Currency = "GBP",
            Code = 3,
            TimestampUnixMs = 1_000,
            State = TransferState.Posted,
            Metadata = new Dictionary<string, string> { ["k"] = "x" },
        }));
        commit.NewTransfers.Add(new(3, new LedgerTransfer
        {
            Id = 11,
            Sequence = 2,
            DebitAccountId = A,
            CreditAccountId = C,
            Amount = 5,
            Currency = "GBP",
            Code = 3,
            Flags = TransferFlags.Pending,
            TimeoutSeconds = 3,
            TimestampUnixMs = 2_000,
            State = TransferState.Pending,
            ExpiresAtUnixMs = 5_000,
        }));
        commit.Balances.Add(new LedgerAccount { Id = A, Currency = "GBP", Flags = AccountFlags.DebitsMustNotExceedCredits, OverdraftLimit = 50, Code = 9, CreatedAtUnixMs = 1_000, DebitsPosted = 100, DebitsPending = 5 });
        commit.Balances.Add(new LedgerAccount { Id = B, Currency = "GBP", Code = 1, CreatedAtUnixMs = 1_000, CreditsPosted = 100 });
        commit.Balances.Add(new LedgerAccount { Id = C, Currency = "GBP", Code = 1, CreatedAtUnixMs = 1_000, CreditsPending = 5 });
        return commit;
    }
}
