using Bulwark.Support.Storage;
using Bulwark.Support.Validation;
using Grpc.Core;

namespace Bulwark.Support.Grpc;

/// <summary>
/// Who an audited request says acts, checked against the directory: a staff member must exist and
/// be enabled, and changes to the directory need the admin role. Roles are the internal edge's to
/// enforce first; this is the second line, so a bug there cannot let a support agent add staff.
/// An empty actor is the bank's own operator at its command line, which has no staff identity yet
/// (Bulwark.Cli's OperatorCredentials).
/// </summary>
internal sealed class StaffActors(ISupportStore store)
{
    /// <summary>The audit actor for a change to the directory: "operator", or an enabled admin's staff id.</summary>
    public async Task<string> AdministratorAsync(string actorStaffId, CancellationToken cancellationToken)
    {
        if (actorStaffId.Length == 0)
        {
            return RequestFields.OperatorActor;
        }
        var actor = await EnabledAsync(actorStaffId, cancellationToken);
        if (!actor.Roles.Contains("admin"))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"Staff member {actor.StaffId} is not an admin: only admins change the staff directory."));
        }
        return actor.StaffId;
    }

    /// <summary>An enabled staff member's id; INVALID_ARGUMENT when malformed, FAILED_PRECONDITION when unknown or disabled.</summary>
    public Task<StaffRecord> EnabledAsync(string actorStaffId, CancellationToken cancellationToken) => EnabledAsync(actorStaffId, "actor_staff_id", cancellationToken);

    /// <summary>As <see cref="EnabledAsync(string, CancellationToken)"/>, the id read from <paramref name="field"/>.</summary>
    public async Task<StaffRecord> EnabledAsync(string actorStaffId, string field, CancellationToken cancellationToken)
    {
        var staffId = RequestFields.Id(actorStaffId, field);
        var actor = await store.GetStaffAsync(staffId, cancellationToken);
        // Not NOT_FOUND: the request's subject may well exist; it is the actor that is not allowed.
        return actor is null ? throw SupportErrors.FailedPrecondition($"{field} {staffId} is no staff member.")
            : actor.Disabled ? throw SupportErrors.FailedPrecondition($"{field} {staffId} is disabled: a disabled staff member does nothing more.")
            : actor;
    }

    /// <summary>An enabled staff member with one of <paramref name="roles"/>: PERMISSION_DENIED otherwise.</summary>
    public async Task<StaffRecord> WithRoleAsync(string actorStaffId, string field, string what, IReadOnlyList<string> roles, CancellationToken cancellationToken)
    {
        var actor = await EnabledAsync(actorStaffId, field, cancellationToken);
        if (!actor.Roles.Any(roles.Contains))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"Staff member {actor.StaffId} may not {what}: it needs the {string.Join(" or ", roles)} role."));
        }
        return actor;
    }
}
