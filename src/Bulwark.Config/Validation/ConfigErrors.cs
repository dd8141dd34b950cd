using Grpc.Core;

namespace Bulwark.Config.Validation;

/// <summary>
/// The failures the configuration service answers with (config.proto). An INVALID_ARGUMENT names
/// its field at the start of the message and in the <see cref="FieldTrailer"/> trailer, as the
/// other services do, so that a tool can point at the field without parsing prose.
/// </summary>
internal static class ConfigErrors
{
    public const string FieldTrailer = "bulwark-field";

    public static RpcException Invalid(string field, string problem)
    {
        var trailers = new Metadata { { FieldTrailer, field } };
        return new RpcException(new Status(StatusCode.InvalidArgument, $"{field} {problem}"), trailers);
    }

    public static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));

    public static RpcException FailedPrecondition(string message) => new(new Status(StatusCode.FailedPrecondition, message));

    public static RpcException OutOfRange(string message) => new(new Status(StatusCode.OutOfRange, message));

    public static RpcException ResourceExhausted(string message) => new(new Status(StatusCode.ResourceExhausted, message));

    public static RpcException Unavailable(string message) => new(new Status(StatusCode.Unavailable, message));

    public static RpcException Aborted(string message) => new(new Status(StatusCode.Aborted, message));
}
