using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Bulwark.Edge.Telemetry;

/// <summary>
/// Counts every request that routing sent to an edge endpoint, including those that authentication
/// turned away before the endpoint ran (401s), by its route template (bounded cardinality).
/// </summary>
internal sealed class EdgeMetricsMiddleware(RequestDelegate next, EdgeMetrics metrics)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var statusCode = StatusCodes.Status500InternalServerError;
        try
        {
            await next(context);
            statusCode = context.Response.StatusCode;
        }
        finally
        {
            if (context.GetEndpoint() is { } endpoint && endpoint.Metadata.GetMetadata<EdgeEndpointMetadata>() is not null)
            {
                var route = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint.DisplayName ?? "unknown";
                metrics.RecordRequest(route, context.Request.Method, statusCode);
            }
        }
    }
}

/// <summary>Puts <see cref="EdgeMetricsMiddleware"/> at the very start of the host's pipeline.</summary>
internal sealed class EdgeMetricsStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseMiddleware<EdgeMetricsMiddleware>();
        next(app);
    };
}
