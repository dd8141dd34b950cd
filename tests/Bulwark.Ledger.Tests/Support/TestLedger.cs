using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Microsoft.Extensions.Time.Testing;

namespace Bulwark.Ledger.Tests.Support;

/// <summary>A started engine on a fresh SQLite database with a fake clock, and helpers to drive it.</summary>
public sealed class TestLedger : IAsyncDisposable
{
    public const string Currency = "GBP";

    private readonly TempDirectory _directory;
    private readonly bool _ownsDirectory;

    private TestLedger(TempDirectory directory, bool ownsDirectory, LedgerEngine engine, FakeTimeProvider time, string path, string? postgres = null)
    {
        Postgres = postgres;
        _directory = directory;
        _ownsDirectory = ownsDirectory;
        Engine = engine;
        Time = time;
        DatabasePath = path;
    }

    public LedgerEngine Engine { get; }

    public FakeTimeProvider Time { get; }

    public string DatabasePath { get; }

    /// <summary>The PostgreSQL connection string when the ledger runs on PostgreSQL; null on SQLite.</summary>
    public string? Postgres { get; }

    /// <summary>LedgerChecker on whichever store this ledger runs on.</summary>
    public LedgerCheckReport Check() => Postgres is null ? LedgerChecker.Check(DatabasePath) : LedgerChecker.CheckPostgres(Postgres);

    public static readonly DateTimeOffset Start = new(2025, 6, 1, 9, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Starts a ledger. Unless <paramref name="options"/> names another partition count, it has ONE
    /// partition: every transfer is then a WHOLE row, which is what the tests of the money rules are
    /// about; transfers between partitions (legs through transit accounts) have tests of their own
    /// (Cells/). <paramref name="partitions"/> overrides both.
    /// </summary>
    public static async Task<TestLedger> StartAsync(bool inMemory = false, Func<ILedgerStore, ILedgerStore>? wrapStore = null,
        LedgerOptions? options = null, TempDirectory? directory = null, FakeTimeProvider? time = null, string? postgres = null,
        int? partitions = null, Microsoft.Extensions.Logging.ILogger<LedgerEngine>? logger = null)
    {
        var ownsDirectory = directory is null;
        directory ??= new TempDirectory(inMemory);
        var path = directory.File("ledger.db");
        options ??= new LedgerOptions();
        options = new LedgerOptions
        {
            DatabasePath = path,
            PartitionCount = partitions ?? (options.PartitionCount == LedgerLimits.PartitionCountDefault ? 1 : options.PartitionCount),
            CellName = options.CellName,
            ClusterId = options.ClusterId,
            InitialPartitions = options.InitialPartitions,
            BatchTransfersMax = options.BatchTransfersMax,
            QueueCapacityItems = options.QueueCapacityItems,
            ExpirySweepInterval = options.ExpirySweepInterval,
        };
        time ??= new FakeTimeProvider(Start);
        ILedgerStore store = postgres is null ? new SqliteLedgerStore(path) : new PostgresLedgerStore(postgres);
        if (wrapStore is not null)
        {
            store = wrapStore(store);
        }
        var engine = new LedgerEngine(options, store, time, logger);
        await engine.StartAsync();
        return new TestLedger(directory, ownsDirectory, engine, time, path, postgres);
    }

    public static UInt128 Id(int value) => (UInt128)value;

    public async Task<UInt128> AccountAsync(int id, AccountFlags flags = AccountFlags.None, long overdraft = 0, string currency = Currency)
    {
        var result = Assert.Single(await Engine.CreateAccountsAsync([new LedgerAccount
        {
            Id = Id(id),
            Currency = currency,
            Flags = flags,
            OverdraftLimit = overdraft,
            Code = 1,
        }]));
        Assert.Equal(CreateAccountStatus.Ok, result.Status);
        return Id(id);
    }

    public async Task<LedgerTransferResult> SubmitAsync(LedgerTransfer transfer) =>
        Assert.Single(await Engine.SubmitAsync([transfer]));

    public async Task<LedgerTransfer> TransferOkAsync(int id, UInt128 debit, UInt128 credit, long amount,
        TransferFlags flags = TransferFlags.None, uint timeoutSeconds = 0)
    {
        var result = await SubmitAsync(Transfer(id, debit, credit, amount, flags, timeoutSeconds));
        Assert.Equal(TransferStatus.Ok, result.Status);
        return result.Transfer!;
    }

    public static LedgerTransfer Transfer(int id, UInt128 debit, UInt128 credit, long amount,
        TransferFlags flags = TransferFlags.None, uint timeoutSeconds = 0) => new()
        {
            Id = Id(id),
            DebitAccountId = debit,
            CreditAccountId = credit,
            Amount = amount,
            Currency = Currency,
            Flags = flags,
            TimeoutSeconds = timeoutSeconds,
            Code = 3,
        };

    public static LedgerTransfer Post(int id, int holdId, long amount = 0) => new()
    {
        Id = Id(id),
        PendingId = Id(holdId),
        Amount = amount,
        Flags = TransferFlags.PostPending,
    };

    public static LedgerTransfer Void(int id, int holdId) => new()
    {
        Id = Id(id),
        PendingId = Id(holdId),
        Flags = TransferFlags.VoidPending,
    };

    public async Task<LedgerAccount> GetAccountAsync(UInt128 id) =>
        Assert.Single(await Engine.GetAccountsAsync([id]));

    public async Task<LedgerTransfer> GetTransferAsync(UInt128 id) =>
        Assert.Single(await Engine.GetTransfersAsync([id]));

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        if (_ownsDirectory)
        {
            _directory.Dispose();
        }
    }
}
