using Grpc.Core;

namespace Bulwark.Feed.Ledger;

/// <summary>
/// The failures the feed answers with. An INVALID_ARGUMENT names its field at the start of the
/// message and in the <see cref="FieldTrailer"/> trailer.
/// </summary>
internal static class FeedErrors
{
    public const string FieldTrailer = "bulwark-field";

    public static RpcException Invalid(string field, string problem) =>
        new(new Status(StatusCode.InvalidArgument, $"{field} {problem}"), new Metadata { { FieldTrailer, field } });

    public static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));

    public static RpcException Unavailable(string message) => new(new Status(StatusCode.Unavailable, message));

    public static RpcException Internal(string message) => new(new Status(StatusCode.Internal, message));

    public static RpcException ResourceExhausted(string message) => new(new Status(StatusCode.ResourceExhausted, message));
}
