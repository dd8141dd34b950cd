using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Claims;
using Bulwark.Edge.Services;
using Bulwark.Platform.Placement;
using Bulwark.Platform.Registry;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Yarp.ReverseProxy.Forwarder;

namespace Bulwark.Edge.Staff.Operator;

/// <summary>
/// The operator gateway (docs/concepts/staff-edge.md, "The operator gateway"): every gRPC call the
/// operator CLI makes arrives here, on the staff edge's operator port, after <see cref="StaffEdgeGate"/>
/// has checked its source. In order, each call: is a staff token's (never a customer's); is a method
/// the table allows the member's roles (<see cref="OperatorMethods"/>, deny by default); states a
/// reason (<see cref="ReasonHeader"/>); is written to the audit log — and refused UNAVAILABLE when it
/// cannot be, nothing forwarded; is forwarded by YARP's <see cref="IHttpForwarder"/> to an instance of
/// the owning service that discovery knows, within a bounded time. Every refusal is a gRPC answer
/// (trailers only) with one clear message.
/// </summary>
internal sealed partial class OperatorGateway(IHttpForwarder forwarder, StaffTokens tokens, IStaffAuditLog audit, IServiceRegistry registry,
    StaffEdgeOptions options, OperatorGatewayMetrics metrics, ILogger<OperatorGateway> logger) : IDisposable
{
    /// <summary>The request header that carries the operator's reason (percent-encoded UTF-8, as the CLI sends it).</summary>
    public const string ReasonHeader = StaffEdgeLimits.OperatorReasonHeader;

    /// <summary>The header the configuration service records its caller from: set here from the token, never passed on from the caller.</summary>
    public const string ActorHeader = "bulwark-actor";

    /// <summary>
    /// The header naming one instance (its address) a call is for, as discovery lists it: a tool
    /// reading each card processor's own journal asks each one. Only registered instances are reached.
    /// </summary>
    public const string InstanceHeader = "x-bulwark-instance";

    private readonly JsonWebTokenHandler _handler = new();

    private readonly HttpMessageInvoker _client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        EnableMultipleHttp2Connections = true,
        ConnectTimeout = TimeSpan.FromSeconds(OperatorGatewayLimits.ConnectTimeoutSeconds),
        ActivityHeadersPropagator = null,
    });

    public void Dispose() => _client.Dispose();

    public async Task InvokeAsync(HttpContext context, IPAddress source)
    {
        ArgumentNullException.ThrowIfNull(context);
        var path = context.Request.Path.Value ?? "";
        if (!HttpMethods.IsPost(context.Request.Method) || context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true)
        {
            await RefuseAsync(context, path, "not_grpc", StatusCode.Unimplemented, "The operator port speaks gRPC only; the console is on the staff port.");
            return;
        }
        var staff = await AuthenticateAsync(context);
        if (staff is null)
        {
            await RefuseAsync(context, path, "unauthenticated", StatusCode.Unauthenticated,
                "A valid staff token is required (a customer's is not one); log in with: bulwark staff login --email EMAIL");
            return;
        }
        var method = OperatorMethods.Find(path);
        if (method is null)
        {
            await RefuseAsync(context, path, "unknown_method", StatusCode.PermissionDenied, $"The operator gateway does not forward {Shorten(path)}.");
            return;
        }
        if (!method.Roles.Any(role => staff.Roles.Contains(role, StringComparer.Ordinal)))
        {
            await RefuseAsync(context, path, "forbidden", StatusCode.PermissionDenied,
                $"{method.Path} needs the role {string.Join(" or ", method.Roles)}; staff member {staff.StaffId} has {Roles(staff)}.");
            return;
        }
        if (Reason(context) is not { } reason)
        {
            await RefuseAsync(context, path, "no_reason", StatusCode.InvalidArgument,
                $"{ReasonHeader}: every operator call states why, {StaffEdgeLimits.ReasonLengthMin} to {StaffEdgeLimits.ReasonLengthMax} characters (the CLI's --reason).");
            return;
        }
        var cell = context.Request.Headers[OperatorMethods.CellHeader].ToString();
        if (cell.Length > 0 && !PlacementMap.IsValidCellName(cell))
        {
            await RefuseAsync(context, path, "bad_cell", StatusCode.InvalidArgument, $"{OperatorMethods.CellHeader}: '{Shorten(cell)}' is not a cell name.");
            return;
        }
        IReadOnlyDictionary<string, string>? described = null;
        if (method.Path == OperatorMethods.SubmitTransfersPath)
        {
            var inspected = await OperatorOpeningBalance.InspectAsync(context.Request, context.RequestAborted);
            if (inspected.Refusal is { } refusal)
            {
                await RefuseAsync(context, path, "not_opening_balance", StatusCode.PermissionDenied, refusal);
                return;
            }
            described = inspected.Details;
        }
        var actor = new StaffActor(staff.StaffId, staff.Name, staff.Roles, source);
        if (!await AuditAsync(context, actor, method, cell, reason, described))
        {
            return;
        }
        await ForwardAsync(context, actor, method, cell);
    }

    private async Task<StaffActor?> AuthenticateAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length > OperatorGatewayLimits.AuthorizationLengthMax)
        {
            return null;
        }
        var result = await _handler.ValidateTokenAsync(header["Bearer ".Length..].Trim(), tokens.ValidationParameters());
        if (!result.IsValid || result.ClaimsIdentity is not { } identity || identity.FindFirst(StaffTokens.StaffIdClaim)?.Value is not { Length: > 0 } staffId)
        {
            return null;
        }
        return new StaffActor(staffId, identity.FindFirst(StaffTokens.NameClaim)?.Value ?? "",
            [.. identity.FindAll(StaffTokens.RoleClaim).Select(claim => claim.Value)], IPAddress.None);
    }

    /// <summary>The stated reason, or null when there is none or it is out of bounds.</summary>
    private static string? Reason(HttpContext context)
    {
        var raw = context.Request.Headers[ReasonHeader].ToString();
        if (raw.Length == 0 || raw.Length > OperatorGatewayLimits.ReasonHeaderLengthMax)
        {
            return null;
        }
        string reason;
        try
        {
            reason = Uri.UnescapeDataString(raw).Trim();
        }
        catch (UriFormatException)
        {
            return null;
        }
        return reason.Length >= StaffEdgeLimits.ReasonLengthMin && reason.Length <= StaffEdgeLimits.ReasonLengthMax && !reason.Any(char.IsControl)
            ? reason
            : null;
    }

    /// <summary>Writes the call to the audit log; false (and the call answered UNAVAILABLE or with the log's refusal) when it cannot be.</summary>
    private async Task<bool> AuditAsync(HttpContext context, StaffActor actor, OperatorMethod method, string cell, string reason, IReadOnlyDictionary<string, string>? described)
    {
        var details = new Dictionary<string, string>(described ?? new Dictionary<string, string>(), StringComparer.Ordinal) { ["method"] = method.Path };
        if (cell.Length > 0)
        {
            details["cell"] = cell;
        }
        try
        {
            await audit.AppendAsync(actor, "operator.call", method.Path, reason, details, context.RequestAborted);
            return true;
        }
        catch (ServiceCallException error)
        {
            LogAuditFailed(logger, method.Path, actor.StaffId, error.StatusCode.ToString(), error.ServiceMessage);
            var status = error.StatusCode is StatusCode.InvalidArgument or StatusCode.PermissionDenied or StatusCode.FailedPrecondition or StatusCode.NotFound
                ? error.StatusCode
                : StatusCode.Unavailable;
            await RefuseAsync(context, method.Path, "audit_failed", status,
                $"The audit log could not record this call ({error.StatusCode}: {error.ServiceMessage}); nothing was done.");
            return false;
        }
    }

    private async Task ForwardAsync(HttpContext context, StaffActor actor, OperatorMethod method, string cell)
    {
        var service = OperatorMethods.TargetService(method, cell);
        var instances = registry.GetView(service).Instances;
        if (instances.Count == 0)
        {
            await RefuseAsync(context, method.Path, "no_instance", StatusCode.Unavailable, $"No instance of the {service} service is registered in discovery; nothing was done.");
            return;
        }
        var named = context.Request.Headers[InstanceHeader].ToString();
        var instance = named.Length == 0 ? instances[Random.Shared.Next(instances.Count)] : instances.FirstOrDefault(candidate => candidate.Address == named);
        if (instance is null)
        {
            await RefuseAsync(context, method.Path, "no_instance", StatusCode.Unavailable, $"{InstanceHeader}: {Shorten(named)} is not a registered instance of the {service} service; nothing was done.");
            return;
        }
        var timeout = ForwardTimeout(context, method);
        var started = Stopwatch.GetTimestamp();
        var error = await forwarder.SendAsync(context, "http://" + instance.Address, _client, new ForwarderRequestConfig
        {
            ActivityTimeout = timeout,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        }, new Transformer(actor.StaffId));
        if (error == ForwarderError.None)
        {
            metrics.Call(method.Path, "forwarded");
            LogForwarded(logger, method.Path, actor.StaffId, instance.Address, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return;
        }
        LogForwardFailed(logger, method.Path, instance.Address, error.ToString(), context.GetForwarderErrorFeature()?.Exception?.Message ?? "");
        if (context.Response.HasStarted)
        {
            // The service had begun answering (a watch's stream): the client sees the stream end without its trailers, an error it reports.
            metrics.Call(method.Path, "broken");
            return;
        }
        context.Response.Clear();
        var message = error == ForwarderError.RequestTimedOut
            ? $"The {service} service at {instance.Address} did not answer within {timeout.TotalSeconds:0.#} s (audited; it may or may not have acted)."
            : $"The {service} service at {instance.Address} could not be reached ({error}); nothing is known to have been done.";
        await RefuseAsync(context, method.Path, error == ForwarderError.RequestTimedOut ? "timeout" : "unreachable", StatusCode.Unavailable, message);
    }

    /// <summary>The caller's own deadline (grpc-timeout) when it gave one, bounded; else the gateway's default for the kind of call.</summary>
    private TimeSpan ForwardTimeout(HttpContext context, OperatorMethod method)
    {
        var max = TimeSpan.FromSeconds(OperatorGatewayLimits.ForwardTimeoutSecondsMax);
        if (GrpcTimeout.Parse(context.Request.Headers["grpc-timeout"].ToString()) is { } asked)
        {
            return asked > max ? max : asked;
        }
        return method.Path.EndsWith("/Watch", StringComparison.Ordinal)
            ? TimeSpan.FromHours(OperatorGatewayLimits.StreamActivityTimeoutHours)
            : options.OperatorCallTimeout;
    }

    private async Task RefuseAsync(HttpContext context, string path, string outcome, StatusCode status, string message)
    {
        metrics.Call(OperatorMethods.Find(path) is null ? "unknown" : path, outcome);
        if (outcome != "audit_failed")
        {
            LogRefused(logger, Shorten(path), outcome, message);
        }
        await GrpcRefusal.WriteAsync(context, status, message);
    }

    private static string Roles(StaffActor staff) => staff.Roles.Count == 0 ? "no role" : string.Join(", ", staff.Roles);

    private static string Shorten(string text) => text.Length <= 120 ? text : text[..120] + "…";

    /// <summary>Passes the call on unchanged but for its credentials: the token stays here, and the actor the services record is the token's.</summary>
    private sealed class Transformer(string staffId) : HttpTransformer
    {
        public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            proxyRequest.Headers.Remove("Authorization");
            proxyRequest.Headers.Remove(ActorHeader);
            proxyRequest.Headers.TryAddWithoutValidation(ActorHeader, "staff " + staffId);
        }
    }

    [LoggerMessage(EventId = 4150, Level = LogLevel.Information, Message = "Operator gateway: {Method} by staff {StaffId} forwarded to {Address} ({ElapsedMilliseconds:0.#} ms)")]
    private static partial void LogForwarded(ILogger logger, string method, string staffId, string address, double elapsedMilliseconds);

    [LoggerMessage(EventId = 4151, Level = LogLevel.Warning, Message = "Operator gateway: {Method} refused ({Outcome}): {Message}")]
    private static partial void LogRefused(ILogger logger, string method, string outcome, string message);

    [LoggerMessage(EventId = 4152, Level = LogLevel.Error, Message = "Operator gateway: {Method} by staff {StaffId} refused: the audit log answered {Status} ({Detail}); nothing forwarded")]
    private static partial void LogAuditFailed(ILogger logger, string method, string staffId, string status, string detail);

    [LoggerMessage(EventId = 4153, Level = LogLevel.Warning, Message = "Operator gateway: forwarding {Method} to {Address} failed: {Error} {Detail}")]
    private static partial void LogForwardFailed(ILogger logger, string method, string address, string error, string detail);
}

/// <summary>The operator gateway's bounds, each with its reason.</summary>
internal static class OperatorGatewayLimits
{
    /// <summary>A unary call that names no deadline: the CLI's own is 15 s; a little more so that the CLI's is the one that speaks.</summary>
    public const int ForwardTimeoutSecondsDefault = 30;

    /// <summary>The longest a caller's deadline is honoured: a cell move's export or digest step asks for 2 minutes.</summary>
    public const int ForwardTimeoutSecondsMax = 600;

    /// <summary>A configuration watch may be quiet for long; never longer than a staff token lives (12 h at most).</summary>
    public const int StreamActivityTimeoutHours = 12;

    /// <summary>Connecting to a service on the private network is quick or it is not going to happen.</summary>
    public const int ConnectTimeoutSeconds = 5;

    /// <summary>A staff JWT is well under 2 KiB; a longer header is not one.</summary>
    public const int AuthorizationLengthMax = 8192;

    /// <summary>The reason percent-encoded: up to 500 characters of up to 4 UTF-8 bytes, 3 characters each.</summary>
    public const int ReasonHeaderLengthMax = StaffEdgeLimits.ReasonLengthMax * 12;
}

/// <summary>gRPC's <c>grpc-timeout</c> header: up to 8 digits and a unit (H, M, S, m, u, n).</summary>
internal static class GrpcTimeout
{
    public static TimeSpan? Parse(string value)
    {
        if (value.Length is < 2 or > 9 || !long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return null;
        }
        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => null,
        };
    }
}

/// <summary>A gRPC refusal as a "trailers-only" response: HTTP 200, and the status and message in the headers, no body.</summary>
internal static class GrpcRefusal
{
    public static Task WriteAsync(HttpContext context, StatusCode status, string message)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)status).ToString(CultureInfo.InvariantCulture);
        // grpc-message is percent-encoded UTF-8 (the gRPC HTTP/2 protocol); clients decode it.
        context.Response.Headers["grpc-message"] = Uri.EscapeDataString(message);
        return context.Response.CompleteAsync();
    }
}
