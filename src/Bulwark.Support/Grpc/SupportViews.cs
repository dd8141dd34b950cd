using Bulwark.Support.Protos;
using Bulwark.Support.Storage;
using Bulwark.Support.Validation;

namespace Bulwark.Support.Grpc;

/// <summary>Records to contract messages.</summary>
internal static class SupportViews
{
    public static Staff ToProto(StaffRecord staff, long nowUnixMs) => new()
    {
        StaffId = staff.StaffId,
        Email = staff.Email,
        Name = staff.Name,
        Roles = { staff.Roles.Select(RequestFields.RoleOf) },
        CreatedAtUnixMs = staff.CreatedAtUnixMs,
        Disabled = staff.Disabled,
        DisabledReason = staff.DisabledReason,
        DisabledAtUnixMs = staff.DisabledAtUnixMs,
        LockedUntilUnixMs = staff.LockedUntilUnixMs > nowUnixMs ? staff.LockedUntilUnixMs : 0,
    };

    public static AuditEntry ToProto(AuditEntryRecord entry) => new()
    {
        Sequence = entry.Sequence,
        TimeUnixMs = entry.TimeUnixMs,
        Actor = entry.Actor,
        Action = entry.Action,
        Subject = entry.Subject,
        Reason = entry.Reason,
        DetailsJson = entry.DetailsJson,
        SourceAddress = entry.SourceAddress,
        PreviousHash = entry.PreviousHash,
        Hash = entry.Hash,
    };
}
