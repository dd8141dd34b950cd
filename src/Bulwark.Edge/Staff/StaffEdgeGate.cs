using System.Net;
using System.Net.Sockets;
using Bulwark.Edge.Problems;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Edge.Staff;

/// <summary>
/// The first thing every request meets, before routing and authentication (docs/concepts/staff-edge.md):
/// <list type="bullet">
/// <item>On the staff port, the request's source must be inside the allowed ranges
/// (<see cref="IStaffSourceRanges"/>), else 403 <c>source-not-allowed</c>, logged and counted —
/// before anything else is said, so an outsider learns nothing of what is there; then only the
/// staff edge's paths (<see cref="StaffPaths"/>) are served: the app API is not reachable here.</item>
/// <item>On any other port, the staff edge's paths answer 404, like paths that do not exist.</item>
/// </list>
/// The source is the TCP peer; a forwarded-for header is believed only from a configured trusted
/// proxy (the right-most address in it that is not itself a trusted proxy).
/// </summary>
internal sealed partial class StaffEdgeGate(RequestDelegate next, IStaffSourceRanges ranges, StaffEdgeOptions options,
    InternalEndpointAccessor endpoints, StaffEdgeMetrics metrics, ILogger<StaffEdgeGate> logger)
{
    /// <summary>Where the request's source address (after trusted proxies) is kept for handlers and the audit log.</summary>
    public const string SourceItem = "bulwark.staff-source";

    private readonly SourceNetworks _trustedProxies = new(options.TrustedProxies);

    public async Task InvokeAsync(HttpContext context)
    {
        if (endpoints.IsOperatorPort(context.Connection.LocalPort))
        {
            await OperatorAsync(context);
            return;
        }
        if (!endpoints.IsStaffPort(context.Connection.LocalPort))
        {
            if (StaffPaths.IsStaffPath(context.Request.Path))
            {
                await ProblemResult.WriteAsync(context, ProblemType.NotFound, "There is no such resource.");
                return;
            }
            await next(context);
            return;
        }
        var (source, malformed) = Source(context);
        if (source is null)
        {
            metrics.Refused("forwarded_for");
            LogForwardedForRefused(logger, context.Connection.RemoteIpAddress?.ToString() ?? "unknown", malformed ?? "");
            await ProblemResult.WriteAsync(context, ProblemType.Validation, $"The X-Forwarded-For header from the trusted proxy is unusable: {malformed}.");
            return;
        }
        var allowed = ranges.Current;
        if (!allowed.Networks.Contains(source))
        {
            metrics.Refused("source");
            LogSourceRefused(logger, source.ToString(), context.Connection.RemoteIpAddress?.ToString() ?? "unknown", context.Request.Method, context.Request.Path.Value ?? "", allowed.Origin);
            await ProblemResult.WriteAsync(context, ProblemType.SourceNotAllowed,
                $"Staff requests must come from the bank's allowed networks; {source} is not in them.");
            return;
        }
        if (!StaffPaths.IsStaffPath(context.Request.Path))
        {
            await ProblemResult.WriteAsync(context, ProblemType.NotFound, "There is no such resource on the staff edge.");
            return;
        }
        context.Items[SourceItem] = source;
        await next(context);
    }

    /// <summary>
    /// The operator port: the same source check as the staff port, answered in gRPC's terms, then the
    /// operator gateway and nothing else (no route, no other middleware, of this host is reachable here).
    /// </summary>
    private async Task OperatorAsync(HttpContext context)
    {
        var gateway = context.RequestServices.GetRequiredService<Operator.OperatorGateway>();
        var gatewayMetrics = context.RequestServices.GetRequiredService<Operator.OperatorGatewayMetrics>();
        var (source, malformed) = Source(context);
        if (source is null)
        {
            metrics.Refused("forwarded_for");
            gatewayMetrics.Call("unknown", "source");
            LogForwardedForRefused(logger, context.Connection.RemoteIpAddress?.ToString() ?? "unknown", malformed ?? "");
            await Operator.GrpcRefusal.WriteAsync(context, Grpc.Core.StatusCode.InvalidArgument, $"The X-Forwarded-For header from the trusted proxy is unusable: {malformed}.");
            return;
        }
        var allowed = ranges.Current;
        if (!allowed.Networks.Contains(source))
        {
            metrics.Refused("source");
            gatewayMetrics.Call("unknown", "source");
            LogSourceRefused(logger, source.ToString(), context.Connection.RemoteIpAddress?.ToString() ?? "unknown", context.Request.Method, context.Request.Path.Value ?? "", allowed.Origin);
            await Operator.GrpcRefusal.WriteAsync(context, Grpc.Core.StatusCode.PermissionDenied,
                $"Operator calls must come from the bank's allowed networks; {source} is not in them.");
            return;
        }
        context.Items[SourceItem] = source;
        await gateway.InvokeAsync(context, source);
    }

    /// <summary>The request's source, or null and why when a trusted proxy sent an unusable forwarded-for header.</summary>
    private (IPAddress? Source, string? Malformed) Source(HttpContext context)
    {
        var peer = Normalise(context.Connection.RemoteIpAddress);
        if (peer is null || !_trustedProxies.Contains(peer))
        {
            // Not a trusted proxy: whatever headers it sent are its own say-so.
            return (peer, null);
        }
        var values = context.Request.Headers["X-Forwarded-For"];
        if (values.Count == 0)
        {
            return (peer, null);
        }
        var chain = new List<IPAddress>();
        foreach (var value in values)
        {
            foreach (var entry in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (chain.Count == StaffEdgeLimits.ForwardedForAddressesMax)
                {
                    return (null, $"more than {StaffEdgeLimits.ForwardedForAddressesMax} addresses");
                }
                if (Parse(entry) is not { } address)
                {
                    return (null, $"'{Shorten(entry)}' is not an IP address");
                }
                chain.Add(address);
            }
        }
        if (chain.Count == 0)
        {
            return (null, "no address in it");
        }
        // Each proxy appends the address it saw: the right-most one not a trusted proxy is the client.
        for (var i = chain.Count - 1; i >= 0; i--)
        {
            if (!_trustedProxies.Contains(chain[i]))
            {
                return (chain[i], null);
            }
        }
        return (chain[0], null);
    }

    /// <summary>An address as proxies write it: <c>203.0.113.7</c>, <c>203.0.113.7:4711</c>, <c>2001:db8::1</c> or <c>[2001:db8::1]:4711</c>.</summary>
    private static IPAddress? Parse(string entry)
    {
        if (IPAddress.TryParse(entry, out var address))
        {
            return Normalise(address);
        }
        return IPEndPoint.TryParse(entry, out var endPoint) ? Normalise(endPoint.Address) : null;
    }

    private static IPAddress? Normalise(IPAddress? address) =>
        address is { AddressFamily: AddressFamily.InterNetworkV6, IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Staff edge: {Method} {Path} from {Source} (peer {Peer}) refused: not in the allowed ranges ({Origin})")]
    private static partial void LogSourceRefused(ILogger logger, string source, string peer, string method, string path, string origin);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Staff edge: a request from trusted proxy {Peer} refused: its X-Forwarded-For is unusable ({Problem})")]
    private static partial void LogForwardedForRefused(ILogger logger, string peer, string problem);
}

/// <summary>The staff edge's URL space: everything it serves is under these prefixes, on its own port only.</summary>
public static class StaffPaths
{
    /// <summary>The staff API (login, the console's and the ops view's calls).</summary>
    public const string Api = "/staff/api";

    /// <summary>The console and ops view pages.</summary>
    public const string Pages = "/staff";

    public static bool IsStaffPath(PathString path) => path.StartsWithSegments(Pages, StringComparison.OrdinalIgnoreCase);
}

/// <summary>Puts <see cref="StaffEdgeGate"/> at the very start of the pipeline, before routing, authentication and the metrics.</summary>
internal sealed class StaffEdgeStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseMiddleware<StaffEdgeGate>();
        next(app);
    };
}
