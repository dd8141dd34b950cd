using Bulwark.Ledger;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Routing;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Bench;

/// <summary>
/// The ledger of the one-process bank, for benchmarks: N real cells (one engine, store and writer
/// each; SQLite files in a directory, or a PostgreSQL database per cell) in one host, the placement
/// map in a file spreading the partitions evenly, every client through the placement router and
/// gRPC as the bank's services call it, the cells delivering each other's credit legs, and a
/// <see cref="PartitionMover"/> over the cells' move contract.
/// </summary>
public sealed class BenchCellBank : IAsyncDisposable
{
    /// <summary>How long <see cref="DrainCreditLegsAsync"/> waits for owed credit legs to be delivered before it says they were not.</summary>
    public static readonly TimeSpan CreditLegDrainTimeout = TimeSpan.FromSeconds(60);

    private readonly IReadOnlyList<LedgerOptions> _cells;
    private WebApplication? _app;

    private BenchCellBank(PlacementMap map, string placementPath, IReadOnlyList<LedgerOptions> cells)
    {
        Map = map;
        PlacementPath = placementPath;
        _cells = cells;
    }

    /// <summary>The map the bank started with.</summary>
    public PlacementMap Map { get; }

    public string PlacementPath { get; }

    /// <summary>The ledger as every service reaches it: through the router.</summary>
    public Ledger.Protos.Ledger.LedgerClient Ledger { get; private set; } = null!;

    public LedgerCells Cells => _app!.Services.GetRequiredService<LedgerCells>();

    /// <summary>
    /// Starts a bank of <paramref name="cellCount"/> cells named a, b, ... whose map and SQLite files go
    /// in <paramref name="directory"/>; with <paramref name="postgresFor"/>, cell X's store is the
    /// PostgreSQL database it names instead.
    /// </summary>
    public static async Task<BenchCellBank> StartAsync(string directory, int cellCount, Func<string, string>? postgresFor, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cellCount, 1);
        Directory.CreateDirectory(directory);
        var names = Enumerable.Range(0, cellCount).Select(index => ((char)('a' + index)).ToString()).ToArray();
        var placementPath = Path.Combine(directory, "placement.json");
        var created = await new FilePlacementStore(placementPath, TimeProvider.System)
            .CreateIfAbsentAsync(PlacementMap.CreateInitial("bench-" + Guid.NewGuid().ToString("n"), LedgerLimits.PartitionCountDefault, names), cancellationToken);
        var map = created.Map ?? throw new InvalidOperationException($"The bench's placement map could not be made: {created.Error?.Message}");
        var cells = names.Select(cell => new LedgerOptions
        {
            DatabasePath = postgresFor is null ? Path.Combine(directory, "ledger-" + cell + ".db") : "postgres",
            PostgresConnectionString = postgresFor?.Invoke(cell),
            CellName = cell,
            ClusterId = map.ClusterId,
            InitialPartitions = map.PartitionsOf(cell),
        }).ToArray();
        var bank = new BenchCellBank(map, placementPath, cells);
        await bank.StartHostAsync(cancellationToken);
        return bank;
    }

    private async Task StartHostAsync(CancellationToken cancellationToken)
    {
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Critical }, new InMemoryServiceRegistry());
        var placementPath = PlacementPath;
        builder.Services.AddPlacement(_ => new FilePlacementStore(placementPath, TimeProvider.System));
        builder.Services.AddLedgerRouting();
        builder.Services.AddLedgerCells(_cells);
        builder.Services.AddLedgerCellPeers();
        _app = builder.Build();
        _app.UsePlatform();
        _app.MapLedger();
        await _app.StartAsync(cancellationToken);
        Ledger = new Ledger.Protos.Ledger.LedgerClient(_app.Services.GetRequiredService<IServiceChannelFactory>().GetChannel(LedgerRoutingServiceCollectionExtensions.LedgerService));
    }

    /// <summary>The cells' move contract, as <c>bulwark cells move</c> reaches it.</summary>
    public LedgerCellAdmin.LedgerCellAdminClient Admin(string cell) =>
        new(_app!.Services.GetRequiredService<IServiceChannelFactory>().GetChannel(LedgerCells.ServiceName(cell)));

    public PartitionMover Mover(PartitionMoveOptions options) => new(new FilePlacementStore(PlacementPath, TimeProvider.System), Admin, options);

    /// <summary>Account ids from <paramref name="from"/> upwards, in order, whose partition <paramref name="keep"/> accepts.</summary>
    public static IEnumerable<UInt128> AccountsWhere(Func<int, bool> keep, UInt128 from)
    {
        for (var id = from; ; id++)
        {
            if (keep(LedgerPartitioner.PartitionOf(id, LedgerLimits.PartitionCountDefault)))
            {
                yield return id;
            }
        }
    }

    /// <summary>Creates accounts (no limits: a transfer is never declined for funds) through the router.</summary>
    public async Task CreateAccountsAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken)
    {
        foreach (var chunk in ids.Chunk(1_000))
        {
            var created = await Ledger.CreateAccountsAsync(new CreateAccountsRequest
            {
                Accounts = { chunk.Select(id => new Account { Id = id.ToProto(), Currency = "GBP", Code = 100 }) },
            }, cancellationToken: cancellationToken);
            if (created.Results.FirstOrDefault(result => result.Status != CreateAccountStatus.Ok) is { } refused)
            {
                throw new InvalidOperationException($"The bench could not create its accounts: {refused.Status}.");
            }
        }
    }

    /// <summary>Waits (bounded) until no cell owes a credit leg of a partition it serves; returns how many are still owed.</summary>
    public async Task<int> DrainCreditLegsAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + CreditLegDrainTimeout;
        while (true)
        {
            var owed = 0;
            foreach (var engine in Cells.Engines)
            {
                owed += (await engine.GetOwedCreditLegsAsync(1_000, cancellationToken)).Count(leg => engine.Ownership.Serves(leg.Partition));
            }
            if (owed == 0 || DateTimeOffset.UtcNow > deadline)
            {
                return owed;
            }
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>
    /// The money check, read from each partition's owner: the sum of the transit accounts' balances
    /// (zero once every credit leg is delivered) and of <paramref name="accounts"/>' balances (zero:
    /// every transfer moved money between them).
    /// </summary>
    public async Task<MoneyCheck> CheckMoneyAsync(IReadOnlyList<UInt128> accounts, CancellationToken cancellationToken)
    {
        Int128 transit = 0;
        Int128 customers = 0;
        Int128 pending = 0;
        var transitIds = Enumerable.Range(0, LedgerLimits.PartitionCountDefault)
            .Select(partition => TransitAccounts.IdOf(partition, "GBP", LedgerLimits.PartitionCountDefault)).ToArray();
        foreach (var engine in Cells.Engines)
        {
            foreach (var account in await engine.GetAccountsAsync(transitIds.Where(id => Serves(engine, id)).ToArray(), cancellationToken))
            {
                transit += (Int128)account.CreditsPosted - account.DebitsPosted;
                pending += (Int128)account.CreditsPending + account.DebitsPending;
            }
            foreach (var chunk in accounts.Where(id => Serves(engine, id)).Chunk(LedgerLimits.CreateAccountsMax))
            {
                foreach (var account in await engine.GetAccountsAsync(chunk, cancellationToken))
                {
                    customers += (Int128)account.CreditsPosted - account.DebitsPosted;
                    pending += (Int128)account.CreditsPending + account.DebitsPending;
                }
            }
        }
        return new MoneyCheck((long)transit, (long)customers, (long)pending);

        static bool Serves(LedgerEngine engine, UInt128 id) => engine.Ownership.Serves(LedgerPartitioner.PartitionOf(id, LedgerLimits.PartitionCountDefault));
    }

    /// <summary>Stops every cell (each writer drains) and runs the ledger checker over every cell and the legs between them.</summary>
    public async Task<LedgerCheckReport> StopAndCheckAsync()
    {
        await StopAsync();
        return LedgerChecker.CheckCells(_cells.Select(cell => cell.PostgresConnectionString is { } postgres
            ? LedgerCellSource.Postgres(postgres)
            : LedgerCellSource.Sqlite(cell.DatabasePath)).ToArray());
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

/// <summary>
/// Sums of balances at the end of a run: the transit accounts (net zero once every credit leg is
/// delivered), the bench's own accounts (net zero: money only moved between them) and every
/// pending amount (zero: the bench makes no holds).
/// </summary>
public sealed record MoneyCheck(long TransitNet, long AccountsNet, long Pending)
{
    public bool Conserved => TransitNet == 0 && AccountsNet == 0 && Pending == 0;
}
