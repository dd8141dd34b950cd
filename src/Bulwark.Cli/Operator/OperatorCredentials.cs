using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Bulwark.Cli.Operator;

/// <summary>
/// The one place operator commands obtain the credentials their calls carry: the staff token of the
/// operator's session (<see cref="StaffSession"/>, from <c>bulwark staff login</c>) and the reason
/// the command was given (<c>--reason</c>, else <c>$BULWARK_REASON</c>). The staff edge's operator
/// gateway checks both, audits the call and only then forwards it (docs/concepts/staff-edge.md).
/// </summary>
internal static class OperatorCredentials
{
    /// <summary>The environment variable a script states its reason in once, instead of --reason on every command.</summary>
    public const string ReasonVariable = "BULWARK_REASON";

    /// <summary>The header the gateway reads the reason from.</summary>
    public const string ReasonHeader = Bulwark.Edge.Staff.StaffEdgeLimits.OperatorReasonHeader;

    /// <summary>The shortest and longest reason the gateway accepts.</summary>
    public const int ReasonLengthMin = Bulwark.Edge.Staff.StaffEdgeLimits.ReasonLengthMin;

    public const int ReasonLengthMax = Bulwark.Edge.Staff.StaffEdgeLimits.ReasonLengthMax;

    /// <summary>
    /// The headers of every call of a command: the session's token and the reason, or
    /// <see cref="OperatorException"/> saying what to run when either is missing.
    /// </summary>
    public static Metadata Headers(string? reason, string loginHint, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var session = StaffSession.Load()
            ?? throw new OperatorException($"not logged in as staff: operator commands act as a staff member and are audited; run: bulwark staff login --email EMAIL{loginHint}");
        if (session.ExpiresAt <= time.GetUtcNow())
        {
            throw new OperatorException($"your staff session ({session.Email}) expired at {session.ExpiresAt:u}; log in again with: bulwark staff login --email {session.Email}{loginHint}");
        }
        var why = (string.IsNullOrWhiteSpace(reason) ? Environment.GetEnvironmentVariable(ReasonVariable) : reason)?.Trim();
        if (string.IsNullOrEmpty(why))
        {
            throw new OperatorException($"--reason is required: say why (it goes to the audit log with your name), or set {ReasonVariable} for a script.");
        }
        if (why.Length is < ReasonLengthMin or > ReasonLengthMax || why.Any(char.IsControl))
        {
            throw new OperatorException($"--reason must be {ReasonLengthMin} to {ReasonLengthMax} printable characters.");
        }
        return new Metadata
        {
            { "authorization", "Bearer " + session.Token },
            // Percent-encoded: a header value is ASCII, a reason need not be.
            { ReasonHeader, Uri.EscapeDataString(why) },
        };
    }
}

/// <summary>
/// Puts the operator's credentials (<see cref="OperatorCredentials"/>) and a deadline on every call
/// of an operator's clients — the commands' own calls and those of the demo seeder they reuse alike.
/// </summary>
internal sealed class OperatorCallInterceptor(TimeSpan callTimeout, Metadata credentials) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var options = context.Options.WithHeaders(WithCredentials(context.Options.Headers)).WithDeadline(context.Options.Deadline ?? DateTime.UtcNow + callTimeout);
        return continuation(request, new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, options));
    }

    /// <summary>A stream (a configuration watch) carries the credentials too; its deadline is the command's own, or none.</summary>
    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        return continuation(request, new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithHeaders(WithCredentials(context.Options.Headers))));
    }

    /// <summary>A copy of the call's headers with the credentials added (the caller's own are never changed in place).</summary>
    private Metadata WithCredentials(Metadata? headers)
    {
        var copy = new Metadata();
        foreach (var entry in headers ?? [])
        {
            copy.Add(entry);
        }
        foreach (var entry in credentials)
        {
            copy.Add(entry);
        }
        return copy;
    }
}
