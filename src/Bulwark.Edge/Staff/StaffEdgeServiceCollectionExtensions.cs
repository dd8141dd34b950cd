using Bulwark.Edge.Authentication;
using Bulwark.Platform.Hosting;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Edge.Staff;

public static class StaffEdgeServiceCollectionExtensions
{
    /// <summary>
    /// Adds the internal staff edge (docs/concepts/staff-edge.md) to a host that has a staff endpoint
    /// (<c>BulwarkHostOptions.StaffEndpoint</c>): the gate on source ranges and paths, staff tokens
    /// signed by a ring of their own, and the staff API. The host supplies an
    /// <see cref="IStaffAuthenticator"/> (the staff directory) and may supply an
    /// <see cref="IStaffSourceRanges"/> (the configuration-backed one); without one the defaults of
    /// <paramref name="options"/> apply. Map it with <see cref="MapStaffEdge"/>.
    /// </summary>
    public static IServiceCollection AddStaffEdge(this IServiceCollection services, StaffEdgeOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        // Read now so that an unreadable directory or a short key stops the process at start, not at the first login.
        SigningKeyRing.Load(options.SigningKeyPath, TimeProvider.System, NullLogger.Instance);

        services.AddSingleton(options);
        services.TryAddSingleton<IStaffSourceRanges, FixedStaffSourceRanges>();
        services.AddMetrics();
        services.AddSingleton<StaffEdgeMetrics>();
        services.AddSingleton(provider => new StaffTokens(
            SigningKeyRing.Load(options.SigningKeyPath, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>().CreateLogger<StaffTokens>()),
            options, provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<StaffApi>();
        services.AddSingleton<StaffConsoleApi>();
        // The console reads what the app API reads; in one process with the public edge, its clients are already there.
        AddServiceClientOnce(services, Services.ServiceCaller.Accounts, channel => new Bulwark.Accounts.Protos.Accounts.AccountsClient(channel));
        AddServiceClientOnce(services, Services.ServiceCaller.Feed, channel => new Bulwark.Feed.Protos.Feed.FeedClient(channel));
        AddServiceClientOnce(services, Services.ServiceCaller.Ledger, channel => new Bulwark.Ledger.Protos.Ledger.LedgerClient(channel));
        services.AddSingleton<StaffApprovalsApi>();
        // The operator gateway (the operator port, when the host has one): YARP's forwarder only, no routes or clusters.
        services.AddHttpForwarder();
        services.AddSingleton<Operator.OperatorGatewayMetrics>();
        services.AddSingleton<Operator.OperatorGateway>();
        services.AddTransient<IStartupFilter, StaffEdgeStartupFilter>();

        services.AddAuthentication().AddJwtBearer(StaffTokens.SchemeName, bearer =>
        {
            bearer.MapInboundClaims = false;
            bearer.Events = new JwtBearerEvents { OnChallenge = EdgeServiceCollectionExtensions.ChallengeAsync };
        });
        services.AddOptions<JwtBearerOptions>(StaffTokens.SchemeName)
            .Configure<StaffTokens>((bearer, tokens) => bearer.TokenValidationParameters = tokens.ValidationParameters());
        var authorization = services.AddAuthorizationBuilder().AddPolicy(StaffTokens.PolicyName, policy => policy
            .AddAuthenticationSchemes(StaffTokens.SchemeName)
            .RequireAuthenticatedUser()
            .RequireClaim(StaffTokens.StaffIdClaim)
            .RequireClaim(StaffTokens.RoleClaim));
        StaffPolicies.Add(authorization);
        return services;
    }

    private static void AddServiceClientOnce<TClient>(IServiceCollection services, string service, Func<Grpc.Core.CallInvoker, TClient> create)
        where TClient : class
    {
        if (!services.Any(descriptor => descriptor.ServiceType == typeof(TClient)))
        {
            services.AddServiceClient(service, create);
        }
    }

    /// <summary>
    /// The staff directory behind the staff edge's logins and the audit log its actions are written
    /// to: the support service's, reached through <c>bulwark:///support</c> (the one a bank runs;
    /// tests may supply their own before this).
    /// </summary>
    public static IServiceCollection AddSupportStaffDirectory(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddServiceClient(SupportStaffAuthenticator.Service, channel => new Bulwark.Support.Protos.StaffDirectory.StaffDirectoryClient(channel));
        services.AddServiceClient(SupportStaffAuthenticator.Service, channel => new Bulwark.Support.Protos.Audit.AuditClient(channel));
        services.AddChatClient();
        services.AddServiceClient(SupportStaffAuthenticator.Service, channel => new Bulwark.Support.Protos.Approvals.ApprovalsClient(channel));
        services.TryAddSingleton<IStaffAuthenticator, SupportStaffAuthenticator>();
        services.TryAddSingleton<IStaffAuditLog, SupportStaffAuditLog>();
        return services;
    }

    /// <summary>Maps the staff API under <see cref="StaffPaths.Api"/> and the console and ops view pages under <see cref="StaffPaths.Pages"/> (answered on the staff port only).</summary>
    public static IEndpointRouteBuilder MapStaffEdge(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        StaffApi.Map(endpoints);
        StaffChatApi.Map(endpoints);
        StaffApprovalsApi.Map(endpoints);
        if (endpoints.ServiceProvider.GetService<Ops.OpsOptions>() is not null)
        {
            Ops.OpsApi.Map(endpoints);
        }
        Bulwark.Edge.WebApp.EmbeddedWebApp.MapStaff(endpoints, StaffPaths.Pages);
        return endpoints;
    }
}
