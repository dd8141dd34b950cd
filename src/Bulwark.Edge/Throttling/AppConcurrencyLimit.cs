using System.Threading.RateLimiting;
using Bulwark.Edge.Api;
using Bulwark.Edge.Problems;
using Bulwark.Edge.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Throttling;

/// <summary>
/// Bounds the app API requests an edge serves at once (<see cref="EdgeOptions.AppRequestsInFlightMax"/>),
/// with ASP.NET Core's concurrency limiter and a small queue for bursts. A request that finds every
/// place and the queue taken is answered at once with 503 <see cref="ProblemType.Overloaded"/> and
/// Retry-After, before anything of it runs: retrying it with the same Idempotency-Key is safe. Only
/// <c>/api</c> is limited: health, metrics and the web app's static files are not. Help long-polls,
/// which wait rather than work, have a limit of their own (<see cref="EdgeLimits.HelpWaitsInFlightMax"/>).
/// </summary>
internal static class AppConcurrencyLimit
{
    private const string Partition = "app-api";
    private const string HelpWaitPartition = "app-help-wait";

    public static IServiceCollection AddAppConcurrencyLimit(this IServiceCollection services, EdgeOptions options)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                AppApi.IsHelpWait(http.Request)
                    ? RateLimitPartition.GetConcurrencyLimiter(HelpWaitPartition, _ => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = EdgeLimits.HelpWaitsInFlightMax,
                        QueueLimit = 0,
                    })
                : http.Request.Path.StartsWithSegments(AppApiEndpoints.Prefix, StringComparison.Ordinal)
                    ? RateLimitPartition.GetConcurrencyLimiter(Partition, _ => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = options.AppRequestsInFlightMax,
                        QueueLimit = options.AppRequestsQueuedMax,
                        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                    })
                    : RateLimitPartition.GetNoLimiter(""));
            limiter.OnRejected = RejectAsync;
        });
        return services.AddTransient<IStartupFilter, AppConcurrencyLimitStartupFilter>();
    }

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var http = rejected.HttpContext;
        http.RequestServices.GetRequiredService<EdgeMetrics>().RecordShed("edge");
        await ProblemResult.WriteAsync(http, ProblemType.Overloaded,
            "The edge is at its limit of requests in flight and did not start this one; nothing was done. Retry after Retry-After with the same Idempotency-Key.",
            retryAfter: TimeSpan.FromSeconds(EdgeLimits.RetryAfterSecondsDefault));
    }

    /// <summary>
    /// Puts the limiter at the start of the pipeline, inside the metrics middleware (registered
    /// first): a shed request never reaches authentication, routing or a service.
    /// </summary>
    private sealed class AppConcurrencyLimitStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseRateLimiter();
            next(app);
        };
    }
}
