using Bulwark.Edge.Api;
using Bulwark.Edge.Authentication;
using Bulwark.Edge.Problems;
using Bulwark.Edge.Services;
using Bulwark.Edge.Telemetry;
using Bulwark.Edge.Throttling;
using Bulwark.Platform.Hosting;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.Tokens;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using ChatClient = Bulwark.Support.Protos.Chat.ChatClient;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Edge;

public static class EdgeServiceCollectionExtensions
{
    /// <summary>
    /// Adds the public app API and the web app: customer bearer tokens (HS256 JWTs signed with the
    /// key in <see cref="EdgeOptions.SigningKeyPath"/>, created if missing), gRPC clients for the
    /// accounts, feed and ledger services, and the <c>Bulwark.Edge</c> meter. Map it with
    /// <see cref="MapEdge"/>; the host gives it a public endpoint.
    /// </summary>
    /// <summary>The support service's chat client, once, for the app's Help screen and the staff console alike (one process may run both edges).</summary>
    internal static IServiceCollection AddChatClient(this IServiceCollection services) =>
        services.Any(service => service.ServiceType == typeof(ChatClient)) ? services
            : services.AddServiceClient(ServiceCaller.Support, channel => new ChatClient(channel));

    public static IServiceCollection AddEdge(this IServiceCollection services, EdgeOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        // Read now so that an unreadable directory or a short key stops the process at start, not at the first login.
        SigningKeyRing.Load(options.SigningKeyPath, TimeProvider.System, NullLogger.Instance);

        services.AddSingleton(options);
        services.AddSingleton(provider => SigningKeyRing.Load(options.SigningKeyPath, provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger<SigningKeyRing>()));
        services.AddSingleton<CustomerTokens>();
        services.AddSingleton(provider => new LoginThrottle(options, provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton(provider => new PayeeThrottle(options, provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ServiceCaller>();
        services.AddSingleton<AppApi>();
        // The host supplies the configuration-backed banner (ConfigStatusBanner) when it has a configuration client.
        services.TryAddSingleton<BankStatus.IStatusBannerSource, BankStatus.NoStatusBanner>();
        services.AddSingleton<EdgeMetrics>();
        services.AddTransient<IStartupFilter, EdgeMetricsStartupFilter>();
        // After the metrics filter, so that the metrics middleware wraps the limiter.
        services.AddAppConcurrencyLimit(options);
        services.AddServiceClient(ServiceCaller.Accounts, channel => new AccountsClient(channel));
        services.AddServiceClient(ServiceCaller.Feed, channel => new FeedClient(channel));
        services.AddServiceClient(ServiceCaller.Ledger, channel => new LedgerClient(channel));
        services.AddChatClient();

        services.AddAuthentication().AddJwtBearer(CustomerTokens.SchemeName, bearer =>
        {
            bearer.MapInboundClaims = false;
            bearer.Events = new JwtBearerEvents { OnChallenge = ChallengeAsync };
        });
        services.AddOptions<JwtBearerOptions>(CustomerTokens.SchemeName)
            .Configure<CustomerTokens>((bearer, tokens) => bearer.TokenValidationParameters = tokens.ValidationParameters());
        services.AddAuthorizationBuilder().AddPolicy(CustomerTokens.PolicyName, policy => policy
            .AddAuthenticationSchemes(CustomerTokens.SchemeName)
            .RequireAuthenticatedUser()
            .RequireClaim(CustomerTokens.CustomerIdClaim));
        return services;
    }

    /// <summary>Maps the status banner at <c>/api/v1/status</c>, the app API under <c>/api</c>, the problem type descriptions and the web app at <c>/</c>.</summary>
    public static IEndpointRouteBuilder MapEdge(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        BankStatus.StatusEndpoint.Map(endpoints);
        AppApiEndpoints.Map(endpoints);
        WebApp.EmbeddedWebApp.Map(endpoints);
        return endpoints;
    }

    /// <summary>Answers a missing, invalid or expired token with a problem document instead of an empty 401.</summary>
    internal static async Task ChallengeAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var detail = context.AuthenticateFailure switch
        {
            null => "This endpoint needs a bearer token: log in with POST /api/login and send 'Authorization: Bearer <token>'.",
            SecurityTokenExpiredException or SecurityTokenInvalidLifetimeException => "The token has expired; log in again.",
            _ => "The bearer token is invalid; log in again.",
        };
        context.Response.Headers.WWWAuthenticate = context.AuthenticateFailure is null ? "Bearer" : "Bearer error=\"invalid_token\"";
        await ProblemResult.WriteAsync(context.HttpContext, ProblemType.Unauthenticated, detail);
    }
}
