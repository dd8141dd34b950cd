using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using Bulwark.Edge.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Bulwark.Edge.WebApp;

/// <summary>
/// Serves a web app from resources embedded in this assembly: one endpoint per file, read once at
/// start, with strong ETags so browsers revalidate cheaply and always see a new version after a
/// deploy. No file system, no build step. The customer app's resources are under <c>wwwroot/</c>
/// and served at the root; the staff console's under <c>staff-wwwroot/</c>, served at <c>/staff/</c>.
/// </summary>
internal static class EmbeddedWebApp
{
    public const string CustomerResources = "wwwroot/";
    public const string StaffResources = "staff-wwwroot/";

    // The app loads only its own scripts, styles and API; inline script is never allowed.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".ico"] = "image/svg+xml",
        [".json"] = "application/json; charset=utf-8",
        [".webmanifest"] = "application/manifest+json; charset=utf-8",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>Customer app modules the staff pages import (a staff file of the same path would win).</summary>
    private static readonly string[] SharedWithStaff = ["/js/api.js", "/js/dom.js", "/js/format.js", "/favicon.svg"];

    private sealed record StaticFile(byte[] Content, string ContentType, string ETag);

    /// <summary>The customer app at the root of the public port.</summary>
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var files = Load(typeof(EmbeddedWebApp).Assembly, CustomerResources);
        foreach (var (path, file) in files)
        {
            endpoints.MapGet(path, (HttpContext http) => Serve(http, file)).WithMetadata(EdgeEndpointMetadata.Instance);
        }
        if (files.TryGetValue("/index.html", out var index))
        {
            endpoints.MapGet("/", (HttpContext http) => Serve(http, index)).WithMetadata(EdgeEndpointMetadata.Instance);
        }
        if (files.TryGetValue("/favicon.svg", out var icon) && !files.ContainsKey("/favicon.ico"))
        {
            // Browsers ask for /favicon.ico on their own; answering it keeps their consoles free of 404s.
            endpoints.MapGet("/favicon.ico", (HttpContext http) => Serve(http, icon)).WithMetadata(EdgeEndpointMetadata.Instance);
        }
    }

    /// <summary>
    /// The staff pages under <paramref name="mount"/> (<c>/staff</c>): each file at its path below it,
    /// <c>index.html</c> (the console) also at <c>/staff/</c>, and every <c>NAME.html</c> also at
    /// <c>/staff/NAME</c> (the ops view at <c>/staff/ops</c>). <c>/staff</c> redirects to <c>/staff/</c>
    /// so that the pages' relative links resolve. Anonymous: the pages hold no data, the API they call is signed in.
    /// </summary>
    public static void MapStaff(IEndpointRouteBuilder endpoints, string mount)
    {
        var files = Load(typeof(EmbeddedWebApp).Assembly, StaffResources);
        // The customer app's API client, DOM helpers and money formatting serve the staff pages too, at the same paths below the mount.
        var customer = Load(typeof(EmbeddedWebApp).Assembly, CustomerResources);
        foreach (var shared in SharedWithStaff)
        {
            files.TryAdd(shared, customer[shared]);
        }
        foreach (var (path, file) in files)
        {
            endpoints.MapGet(mount + path, (HttpContext http) => Serve(http, file)).AllowAnonymous();
            if (path.EndsWith(".html", StringComparison.Ordinal) && path != "/index.html")
            {
                endpoints.MapGet(mount + path[..^".html".Length], (HttpContext http) => Serve(http, file)).AllowAnonymous();
            }
        }
        if (files.TryGetValue("/index.html", out var index))
        {
            // Routing matches "/staff" and "/staff/" alike: one endpoint, which sends the first to the second.
            endpoints.MapGet(mount + "/", (HttpContext http) => http.Request.Path.Value?.EndsWith('/') == true
                ? Serve(http, index)
                : Results.Redirect(mount + "/")).AllowAnonymous();
        }
    }

    private static Dictionary<string, StaticFile> Load(Assembly assembly, string prefix)
    {
        var files = new Dictionary<string, StaticFile>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            var normalised = name.Replace('\\', '/');
            if (!normalised.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }
            using var stream = assembly.GetManifestResourceStream(name)
                ?? throw new InvalidOperationException($"Embedded resource '{name}' cannot be read.");
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var content = memory.ToArray();
            var contentType = ContentTypes.GetValueOrDefault(Path.GetExtension(normalised), "application/octet-stream");
            var etag = $"\"{Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 16))}\"";
            files["/" + normalised[prefix.Length..]] = new StaticFile(content, contentType, etag);
        }
        return files;
    }

    private static IResult Serve(HttpContext http, StaticFile file)
    {
        var headers = http.Response.Headers;
        headers.ETag = file.ETag;
        // Revalidated on every load (cheap with the ETag) so that a new version is never hidden by a cache.
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers[HeaderNames.ContentSecurityPolicy] = ContentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        var ifNoneMatch = http.Request.Headers.IfNoneMatch;
        if (ifNoneMatch.Count > 0 && ifNoneMatch.Any(value => value is not null && value.Contains(file.ETag, StringComparison.Ordinal)))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }
        return Results.Bytes(file.Content, file.ContentType);
    }
}
