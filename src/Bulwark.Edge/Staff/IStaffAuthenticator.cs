using System.Net;

namespace Bulwark.Edge.Staff;

/// <summary>A staff member as the staff directory describes them after a login.</summary>
public sealed record StaffMember(string StaffId, string Name, IReadOnlyList<string> Roles);

/// <summary>What the staff directory said to a login.</summary>
public abstract record StaffLoginOutcome
{
    private StaffLoginOutcome()
    {
    }

    /// <summary>Password and second factor both right; the member is active.</summary>
    public sealed record Authenticated(StaffMember Member) : StaffLoginOutcome;

    /// <summary>Wrong email, password or code, or a disabled member: which one is never said.</summary>
    public sealed record Refused : StaffLoginOutcome;

    /// <summary>Too many wrong attempts: no login until the time given.</summary>
    public sealed record Locked(TimeSpan RetryAfter) : StaffLoginOutcome;
}

/// <summary>
/// Checks a staff login (password and TOTP code) against the staff directory, the support
/// service's (docs/concepts/staff-and-audit.md). An unreachable directory throws the service-call
/// exception the edge maps to 503, never a refusal.
/// </summary>
public interface IStaffAuthenticator
{
    Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken);
}
