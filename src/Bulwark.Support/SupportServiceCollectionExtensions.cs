using Bulwark.Platform.Hosting;
using Bulwark.Platform.Telemetry;
using Bulwark.Storage.Sqlite;
using Bulwark.Support.Chat;
using Bulwark.Support.Grpc;
using Bulwark.Support.Security;
using Bulwark.Support.Storage;
using Bulwark.Support.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bulwark.Support;

public static class SupportServiceCollectionExtensions
{
    /// <summary>The service's name in discovery: clients call <c>bulwark:///support</c>.</summary>
    public const string ServiceName = "support";

    /// <summary>
    /// Hosts the support service in this process: its store (SQLite at
    /// <see cref="SupportOptions.DatabasePath"/> unless PostgreSQL is configured or an
    /// <see cref="ISupportStore"/> is already registered), the TOTP key file, and the registry entry
    /// "support". Call <see cref="MapSupport"/> on the built app.
    /// </summary>
    public static IServiceCollection AddSupport(this IServiceCollection services, SupportOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddHostedBulwarkService(ServiceName);
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ISupportStore>(_ => options.PostgresConnectionString is { Length: > 0 } postgres
            ? new PostgresSupportStore(postgres)
            : new SqliteSupportStore(new SqliteDatabase(options.DatabasePath)));
        // The chat lives in the same database as the audit log (a staff message and its audit entry are one write).
        services.TryAddSingleton(provider => provider.GetRequiredService<ISupportStore>() as IChatStore
            ?? throw new InvalidOperationException("The registered ISupportStore does not keep the chat (IChatStore); register an IChatStore too."));
        services.AddSingleton<ConversationSignals>();
        services.AddSingleton(provider => new ChatLongPoll(provider.GetRequiredService<IChatStore>(), provider.GetRequiredService<ConversationSignals>(),
            provider.GetRequiredService<TimeProvider>()));
        // Approvals live in the support store's own database, beside the audit log they append to.
        services.TryAddSingleton(provider => provider.GetRequiredService<ISupportStore>() as IApprovalStore
            ?? throw new InvalidOperationException("The support store does not keep approvals: register an IApprovalStore."));
        services.AddSingleton(_ => TotpKeyRing.LoadOrCreate(options.TotpKeyPath));
        services.AddSingleton(provider => new StaffTotp(provider.GetRequiredService<TimeProvider>(), options.TotpIssuer));
        services.AddSingleton<StaffPasswords>();
        services.AddSingleton<StaffActors>();
        services.AddSingleton<SupportMetrics>();
        services.AddSingleton<CallOutcomeInterceptor<SupportMetrics>>();
        services.AddHostedService<SupportStartup>();
        services.AddGrpc()
            .AddServiceOptions<StaffDirectoryGrpcService>(grpc => grpc.Interceptors.Add<CallOutcomeInterceptor<SupportMetrics>>())
            .AddServiceOptions<AuditGrpcService>(grpc => grpc.Interceptors.Add<CallOutcomeInterceptor<SupportMetrics>>())
            .AddServiceOptions<ChatGrpcService>(grpc => grpc.Interceptors.Add<CallOutcomeInterceptor<SupportMetrics>>())
            .AddServiceOptions<ApprovalsGrpcService>(grpc => grpc.Interceptors.Add<CallOutcomeInterceptor<SupportMetrics>>());
        return services;
    }

    public static IEndpointRouteBuilder MapSupport(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<StaffDirectoryGrpcService>();
        endpoints.MapGrpcService<AuditGrpcService>();
        endpoints.MapGrpcService<ChatGrpcService>();
        endpoints.MapGrpcService<ApprovalsGrpcService>();
        return endpoints;
    }
}
