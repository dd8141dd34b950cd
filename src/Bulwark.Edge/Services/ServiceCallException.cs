using System.Text;
using Bulwark.Platform.Overload;
using Grpc.Core;

namespace Bulwark.Edge.Services;

/// <summary>
/// A gRPC call from the edge failed; carries which service answered so the mapping can log and count
/// it. Public: implementations of the edges' seams (<c>IStaffAuditLog</c>, <c>IStaffAuthenticator</c>) throw it for a service that failed.
/// </summary>
public sealed class ServiceCallException(string service, RpcException error)
    : Exception($"The {service} service answered {error.StatusCode}: {error.Status.Detail}", error)
{
    /// <summary>The trailer in which a service names the bad field of an INVALID_ARGUMENT (proto field name).</summary>
    public const string FieldTrailer = "bulwark-field";

    public string Service { get; } = service;

    public StatusCode StatusCode { get; } = error.StatusCode;

    public string ServiceMessage { get; } = error.Status.Detail ?? "";

    /// <summary>The bad field in the app API's spelling (camelCase), or null when the service named none.</summary>
    public string? Field { get; } = ToCamelCase(error.Trailers?.GetValue(FieldTrailer));

    /// <summary>
    /// The service refused the call because it was at its limit of calls in flight (it did not start
    /// it), and how long it asked callers to wait; null when it did not say so.
    /// </summary>
    public TimeSpan? OverloadedRetryAfter { get; } = OverloadedWait(error);

    private static TimeSpan? OverloadedWait(RpcException error)
    {
        if (error.StatusCode != StatusCode.Unavailable || error.Trailers?.GetValue(CallConcurrencyLimiter.OverloadedTrailer) != "true")
        {
            return null;
        }
        var milliseconds = long.TryParse(error.Trailers.GetValue(CallConcurrencyLimiter.RetryAfterTrailer), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 0;
        return TimeSpan.FromMilliseconds(Math.Clamp(milliseconds, 1, EdgeLimits.RetryAfterSecondsMax * 1000L));
    }

    private static string? ToCamelCase(string? protoField)
    {
        if (string.IsNullOrWhiteSpace(protoField) || protoField.Length > EdgeLimits.IdLengthMax)
        {
            return null;
        }
        var builder = new StringBuilder(protoField.Length);
        var upper = false;
        foreach (var c in protoField)
        {
            if (c == '_')
            {
                upper = builder.Length > 0;
                continue;
            }
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return null;
            }
            builder.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }
        return builder.Length == 0 ? null : builder.ToString();
    }
}
