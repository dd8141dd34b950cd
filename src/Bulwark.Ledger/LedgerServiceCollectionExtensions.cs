using System.Diagnostics.Metrics;
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
    /// Hosts the ledger in this process: the engine over a SQLite store at
    /// <see cref="LedgerOptions.DatabasePath"/> (unless an <see cref="ILedgerStore"/> is already
    /// registered), a hosted service that starts it before the host listens and drains it on stop,
    /// the gRPC service, and the registry entry "ledger". Call <see cref="MapLedger"/> on the built app.
    /// </summary>
    public static IServiceCollection AddLedger(this IServiceCollection services, LedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddHostedBulwarkService("ledger");
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILedgerStore>(_ => options.PostgresConnectionString is { Length: > 0 } postgres
            ? new PostgresLedgerStore(postgres)
            : new SqliteLedgerStore(options.DatabasePath));
        services.AddSingleton(provider => new LedgerEngine(
            options,
            provider.GetRequiredService<ILedgerStore>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<LedgerEngine>>(),
            provider.GetRequiredService<IMeterFactory>()));
        services.AddSingleton<IHostedService, LedgerHostedService>();
        // Not ready while the writer cannot commit (a full disk, a lost database), ready again after a commit.
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            "ledger-commit", provider => provider.GetRequiredService<LedgerEngine>().CommitHealth, failureStatus: null, tags: [BulwarkHost.ReadyTag]));
        services.AddGrpc();
        return services;
    }

    public static IEndpointRouteBuilder MapLedger(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<LedgerGrpcService>();
        return endpoints;
    }
}

/// <summary>
/// Starts the engine when the host starts — before it listens and registers, so that a broken
/// database stops the process instead of its first caller — and on stop lets the writer commit
/// what is queued before the store closes.
/// </summary>
internal sealed class LedgerHostedService(LedgerEngine engine) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => engine.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => engine.StopAsync(cancellationToken);
}
