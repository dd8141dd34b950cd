using System.Diagnostics.Metrics;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Storage;
using Bulwark.Platform.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger;

public static class LedgerServiceCollectionExtensions
{
    /// <summary>
    /// Hosts the ledger in this process, as one cell: the engine over a SQLite store at
    /// <see cref="LedgerOptions.DatabasePath"/> (unless an <see cref="ILedgerStore"/> is already
    /// registered), a hosted service that starts it before the host listens and drains it on stop,
    /// the gRPC service, and the registry entries "ledger" and "ledger-CELL". Call
    /// <see cref="MapLedger"/> on the built app.
    /// </summary>
    public static IServiceCollection AddLedger(this IServiceCollection services, LedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.TryAddSingleton<ILedgerStore>(_ => CreateStore(options));
        services.AddSingleton(provider => CreateEngine(provider, options, provider.GetRequiredService<ILedgerStore>()));
        services.AddSingleton(provider => new LedgerCells([provider.GetRequiredService<LedgerEngine>()]));
        services.AddHostedBulwarkService("ledger");
        services.AddHostedBulwarkService(LedgerCells.ServiceName(options.CellName));
        return AddLedgerHosting(services);
    }

    /// <summary>
    /// Hosts several cells of the ledger in this process (the one-process bank): one engine and
    /// store per cell, each registered as "ledger-CELL"; calls name their cell in the
    /// <see cref="LedgerCells.CellHeader"/> header, which the placement router sets.
    /// </summary>
    public static IServiceCollection AddLedgerCells(this IServiceCollection services, IReadOnlyList<LedgerOptions> cells)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(cells);
        foreach (var options in cells)
        {
            options.Validate();
            services.AddHostedBulwarkService(LedgerCells.ServiceName(options.CellName));
        }
        services.AddSingleton(provider => new LedgerCells(cells.Select(options => CreateEngine(provider, options, CreateStore(options))).ToArray()));
        return AddLedgerHosting(services);
    }

    /// <summary>
    /// Lets the cells of this process reach the other cells (through the "ledger" client, which
    /// the placement router turns into calls to each partition's owner): to check credit accounts
    /// they do not own, and to deliver the credit legs they owe, from a background loop per cell.
    /// </summary>
    public static IServiceCollection AddLedgerCellPeers(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddServiceClient("ledger", channel => new Protos.Ledger.LedgerClient(channel));
        services.TryAddSingleton<ILedgerCellPeers, GrpcLedgerCellPeers>();
        return AddCellLoop(services, (provider, engine) => new CreditLegDelivery(
            engine, provider.GetRequiredService<ILedgerCellPeers>(), provider.GetRequiredService<ILogger<CreditLegDelivery>>(), provider.GetRequiredService<TimeProvider>()));
    }

    /// <summary>
    /// Adds a background loop every cell of this process runs (see <see cref="LedgerCellLoops"/>):
    /// one per cell at start, and one for each cell opened later.
    /// </summary>
    private static IServiceCollection AddCellLoop(IServiceCollection services, Func<IServiceProvider, LedgerEngine, IHostedService> create)
    {
        services.AddSingleton(new LedgerCellLoop(create));
        if (!services.Any(descriptor => descriptor.ServiceType == typeof(LedgerCellLoops)))
        {
            services.AddSingleton(provider => new LedgerCellLoops(
                provider, provider.GetRequiredService<LedgerCells>(), provider.GetServices<LedgerCellLoop>().ToArray()));
            services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<LedgerCellLoops>());
        }
        return services;
    }

    /// <summary>
    /// The one-process bank serves every cell of its placement map: a cell added to the map while it
    /// runs is opened with the options <paramref name="optionsFor"/> gives (see <see cref="LedgerCellsFollower"/>).
    /// Call after <see cref="AddLedgerCells"/>, <see cref="AddLedgerCellPeers"/> and the placement view.
    /// </summary>
    public static IServiceCollection AddLedgerCellsFollowingMap(this IServiceCollection services, Func<string, Platform.Placement.PlacementMap, LedgerOptions> optionsFor)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(optionsFor);
        services.AddSingleton<IHostedService>(provider => new LedgerCellsFollower(
            provider.GetRequiredService<LedgerCells>(),
            provider.GetRequiredService<Platform.Placement.PlacementView>(),
            (cell, map) =>
            {
                var options = optionsFor(cell, map);
                options.Validate();
                return CreateEngine(provider, options, CreateStore(options));
            },
            provider.GetRequiredService<LedgerCellLoops>(),
            provider.GetRequiredService<IServiceAnnouncer>(),
            provider.GetRequiredService<ILogger<LedgerCellsFollower>>()));
        return services;
    }

    /// <summary>
    /// Publishes every cell's committed changes to <paramref name="log"/> (docs/internals/event-log.md):
    /// one <see cref="Events.LedgerEventRelay"/> per cell of this process, started after the cells
    /// and stopped before them, and one for each cell <see cref="AddLedgerCellsFollowingMap"/> opens
    /// later. Call after <see cref="AddLedger"/> or <see cref="AddLedgerCells"/>.
    /// </summary>
    public static IServiceCollection AddLedgerEventLog(this IServiceCollection services, Func<IServiceProvider, EventLog.IEventLog> log)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(log);
        services.AddSingleton(log);
        services.TryAddSingleton(provider => new Events.LedgerEventRelayMetrics(provider.GetRequiredService<IMeterFactory>()));
        return AddCellLoop(services, (provider, engine) => new Events.LedgerEventRelay(
            engine,
            provider.GetRequiredService<EventLog.IEventLog>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<Events.LedgerEventRelay>>(),
            provider.GetRequiredService<Events.LedgerEventRelayMetrics>()));
    }

    private static IServiceCollection AddLedgerHosting(IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IHostedService, LedgerHostedService>();
        // Not ready while a cell's writer cannot commit (a full disk, a lost database), ready again after a commit.
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            "ledger-commit", provider => provider.GetRequiredService<LedgerCells>() is { Engines.Count: 1 } one
                ? one.Engines[0].CommitHealth
                : new LedgerCellsCommitHealth(provider.GetRequiredService<LedgerCells>()), failureStatus: null, tags: [BulwarkHost.ReadyTag]));
        services.AddGrpc();
        return services;
    }

    private static ILedgerStore CreateStore(LedgerOptions options) =>
        options.PostgresConnectionString is { Length: > 0 } postgres ? new PostgresLedgerStore(postgres) : new SqliteLedgerStore(options.DatabasePath);

    private static LedgerEngine CreateEngine(IServiceProvider provider, LedgerOptions options, ILedgerStore store) => new(
        options,
        store,
        provider.GetRequiredService<TimeProvider>(),
        provider.GetRequiredService<ILogger<LedgerEngine>>(),
        provider.GetRequiredService<IMeterFactory>());

    public static IEndpointRouteBuilder MapLedger(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<LedgerGrpcService>();
        endpoints.MapGrpcService<LedgerCellAdminService>();
        return endpoints;
    }
}

/// <summary>
/// Starts the engine when the host starts — before it listens and registers, so that a broken
/// database stops the process instead of its first caller — and on stop lets the writer commit
/// what is queued before the store closes.
/// </summary>
internal sealed class LedgerHostedService(LedgerCells cells) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var engine in cells.Engines)
        {
            await engine.StartAsync(cancellationToken);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var engine in cells.Engines)
        {
            await engine.StopAsync(cancellationToken);
        }
    }
}

/// <summary>Ready while every cell of this process can commit; names the cells that cannot.</summary>
internal sealed class LedgerCellsCommitHealth(LedgerCells cells) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failing = new List<string>();
        foreach (var engine in cells.Engines)
        {
            var result = await engine.CommitHealth.CheckHealthAsync(context, cancellationToken);
            if (result.Status != HealthStatus.Healthy)
            {
                failing.Add($"cell {engine.Options.CellName}: {result.Description}");
            }
        }
        return failing.Count == 0 ? HealthCheckResult.Healthy() : new HealthCheckResult(context.Registration.FailureStatus, string.Join("; ", failing));
    }
}

/// <summary>A background loop each ledger cell of this process runs: credit-leg deliveries, the event relay.</summary>
internal sealed record LedgerCellLoop(Func<IServiceProvider, LedgerEngine, IHostedService> Create);

/// <summary>
/// The background loops of every cell of this process (<see cref="LedgerCellLoop"/>), started after
/// the cells in the order of the cells and of the loops, stopped in reverse; a cell opened later
/// (<see cref="LedgerCellsFollower"/>) gets its loops through <see cref="StartForAsync"/>.
/// </summary>
internal sealed class LedgerCellLoops(IServiceProvider provider, LedgerCells cells, IReadOnlyList<LedgerCellLoop> loops) : IHostedService, IDisposable
{
    private readonly List<IHostedService> _running = [];
    private readonly SemaphoreSlim _lock = new(1, 1);
    private bool _stopped;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var engine in cells.Engines)
        {
            await StartForAsync(engine, cancellationToken);
        }
    }

    /// <summary>Starts the loops of <paramref name="engine"/>'s cell (once the host stopped, none).</summary>
    public async Task StartForAsync(LedgerEngine engine, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (_stopped)
            {
                return;
            }
            foreach (var loop in loops)
            {
                var service = loop.Create(provider, engine);
                await service.StartAsync(cancellationToken);
                _running.Add(service);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(CancellationToken.None);
        try
        {
            _stopped = true;
            for (var i = _running.Count - 1; i >= 0; i--)
            {
                await _running[i].StopAsync(cancellationToken);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Dispose()
    {
        foreach (var service in _running)
        {
            (service as IDisposable)?.Dispose();
        }
        _running.Clear();
        _lock.Dispose();
    }
}
