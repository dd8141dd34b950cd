using Grpc.Core;

namespace Bulwark.Accounts.Validation;

/// <summary>
/// The failures the accounts service answers with. An INVALID_ARGUMENT names its field at the
/// start of the message and in the <see cref="FieldTrailer"/> trailer, so that the edge can point
/// at the field in its problem response without parsing prose.
/// </summary>
internal static class AccountsErrors
{
    public const string FieldTrailer = "bulwark-field";

    public static RpcException Invalid(string field, string problem)
    {
        var trailers = new Metadata { { FieldTrailer, field } };
        return new RpcException(new Status(StatusCode.InvalidArgument, $"{field} {problem}"), trailers);
    }

    public static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));

    public static RpcException PermissionDenied(string message) => new(new Status(StatusCode.PermissionDenied, message));

    public static RpcException FailedPrecondition(string message) => new(new Status(StatusCode.FailedPrecondition, message));

    public static RpcException AlreadyExists(string message) => new(new Status(StatusCode.AlreadyExists, message));

    public static RpcException Unavailable(string message) => new(new Status(StatusCode.Unavailable, message));

    public static RpcException ResourceExhausted(string message) => new(new Status(StatusCode.ResourceExhausted, message));

    public static RpcException Internal(string message) => new(new Status(StatusCode.Internal, message));
}
