using System.Text;
using Grpc.Core;

namespace Bulwark.Edge.Services;

/// <summary>A gRPC call from the edge failed; carries which service answered so the mapping can log and count it.</summary>
internal sealed class ServiceCallException(string service, RpcException error)
    : Exception($"The {service} service answered {error.StatusCode}: {error.Status.Detail}", error)
{
    /// <summary>The trailer in which a service names the bad field of an INVALID_ARGUMENT (proto field name).</summary>
    public const string FieldTrailer = "bulwark-field";

    public string Service { get; } = service;

    public StatusCode StatusCode { get; } = error.StatusCode;

    public string ServiceMessage { get; } = error.Status.Detail ?? "";

    /// <summary>The bad field in the app API's spelling (camelCase), or null when the service named none.</summary>
    public string? Field { get; } = ToCamelCase(error.Trailers?.GetValue(FieldTrailer));

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
