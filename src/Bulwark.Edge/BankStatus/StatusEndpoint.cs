using System.Globalization;
using Bulwark.Edge.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Bulwark.Edge.BankStatus;

/// <summary>
/// <c>GET /api/v1/status</c>: anonymous, answered from memory, cacheable for a few seconds — every
/// customer app asks every 30 s, signed in or not, and a degraded bank is exactly when it must stay cheap.
/// </summary>
internal static class StatusEndpoint
{
    public const string Path = "/api/v1/status";

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(Path, (HttpContext http, IStatusBannerSource source) =>
        {
            http.Response.Headers.CacheControl = string.Create(CultureInfo.InvariantCulture, $"public, max-age={StatusLimits.StatusCacheSecondsMax}");
            var banner = source.Current;
            return TypedResults.Json(new StatusResponse(banner is null ? null : new StatusBannerView(banner.Level, banner.Message)),
                StatusBannerJsonContext.Default.StatusResponse);
        }).WithMetadata(EdgeEndpointMetadata.Instance).AllowAnonymous();
    }
}
