using System.Globalization;
using System.Net;
using Bulwark.Edge.Services;
using Bulwark.Support.Protos;
using Grpc.Core;

namespace Bulwark.Edge.Staff;

/// <summary>
/// Staff logins checked by the support service's staff directory (<c>support.proto</c>,
/// <c>AuthenticateStaff</c>): password and TOTP code there, never here. Its lock after repeated
/// failures (FAILED_PRECONDITION with the lock's end in a trailer) becomes
/// <see cref="StaffLoginOutcome.Locked"/>; any other failure is a service failure the edge answers
/// as such (503 when the directory is unreachable) — never a refusal, never a login.
/// </summary>
internal sealed class SupportStaffAuthenticator(StaffDirectory.StaffDirectoryClient directory, StaffEdgeOptions options, TimeProvider time) : IStaffAuthenticator
{
    public const string Service = "support";

    /// <summary>The trailer in which the directory says until when a member is locked (Unix milliseconds).</summary>
    public const string LockedUntilTrailer = "bulwark-locked-until-unix-ms";

    public async Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        AuthenticateStaffResponse reply;
        try
        {
            // The deadline travels on the wire and is compared with real clocks: from the wall clock.
            reply = await directory.AuthenticateStaffAsync(new AuthenticateStaffRequest
            {
                Email = email,
                Password = password,
                TotpCode = totpCode,
                SourceAddress = source.ToString(),
            }, deadline: DateTime.UtcNow.Add(options.ServiceCallTimeout), cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.FailedPrecondition
            && error.Trailers.GetValue(LockedUntilTrailer) is { } until
            && long.TryParse(until, NumberStyles.None, CultureInfo.InvariantCulture, out var untilUnixMs))
        {
            var wait = DateTimeOffset.FromUnixTimeMilliseconds(untilUnixMs) - time.GetUtcNow();
            return new StaffLoginOutcome.Locked(wait > TimeSpan.FromSeconds(1) ? wait : TimeSpan.FromSeconds(1));
        }
        catch (RpcException error)
        {
            // Mapped by the staff API's problem filter like any service failure (503 unavailable, 504 deadline).
            throw new ServiceCallException(Service, error);
        }
        if (!reply.Authenticated || string.IsNullOrEmpty(reply.StaffId))
        {
            return new StaffLoginOutcome.Refused();
        }
        return new StaffLoginOutcome.Authenticated(new StaffMember(reply.StaffId, reply.Name, [.. reply.Roles.Select(RoleName)]));
    }

    /// <summary>The role as tokens and policies name it: support, operations, admin.</summary>
    public static string RoleName(StaffRole role) => role switch
    {
        StaffRole.Support => "support",
        StaffRole.Operations => "operations",
        StaffRole.Admin => "admin",
        _ => "none",
    };
}
