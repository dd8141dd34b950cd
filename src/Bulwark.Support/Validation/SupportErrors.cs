using Grpc.Core;

namespace Bulwark.Support.Validation;

/// <summary>
/// The failures the support service answers with. An INVALID_ARGUMENT names its field at the
/// start of the message and in the <see cref="FieldTrailer"/> trailer, as the accounts service does.
/// </summary>
internal static class SupportErrors
{
    public const string FieldTrailer = "bulwark-field";

    /// <summary>On a lock: when it ends (Unix ms), for a caller that shows it or waits.</summary>
    public const string LockedUntilTrailer = "bulwark-locked-until-unix-ms";

    public static RpcException Invalid(string field, string problem)
    {
        var trailers = new Metadata { { FieldTrailer, field } };
        return new RpcException(new Status(StatusCode.InvalidArgument, $"{field} {problem}"), trailers);
    }

    public static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));

    public static RpcException FailedPrecondition(string message) => new(new Status(StatusCode.FailedPrecondition, message));

    /// <summary>The trailer naming the rule a FAILED_PRECONDITION broke, for callers that answer each rule differently.</summary>
    public const string RuleTrailer = "bulwark-rule";

    /// <summary>FAILED_PRECONDITION naming its rule in <see cref="RuleTrailer"/> ("own-approval", "not-pending" ...).</summary>
    public static RpcException Rule(string rule, string message) =>
        new(new Status(StatusCode.FailedPrecondition, message), new Metadata { { RuleTrailer, rule } });

    public static RpcException AlreadyExists(string message) => new(new Status(StatusCode.AlreadyExists, message));

    public static RpcException ResourceExhausted(string message) => new(new Status(StatusCode.ResourceExhausted, message));

    /// <summary>A staff member locked after failed logins: FAILED_PRECONDITION, the end in the message and a trailer.</summary>
    public static RpcException Locked(long lockedUntilUnixMs, long nowUnixMs)
    {
        var until = DateTimeOffset.FromUnixTimeMilliseconds(lockedUntilUnixMs);
        var seconds = Math.Max(1, (lockedUntilUnixMs - nowUnixMs + 999) / 1000);
        var trailers = new Metadata { { LockedUntilTrailer, lockedUntilUnixMs.ToString(System.Globalization.CultureInfo.InvariantCulture) } };
        return new RpcException(new Status(StatusCode.FailedPrecondition,
            System.FormattableString.Invariant($"This staff account is locked after too many failed logins until {until:yyyy-MM-ddTHH:mm:ssZ} (in {seconds} s).")), trailers);
    }
}
