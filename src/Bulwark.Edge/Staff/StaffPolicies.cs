using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace Bulwark.Edge.Staff;

/// <summary>
/// Who may do what on the staff edge (docs/concepts/staff-edge.md, "Roles"). Least privilege: an
/// admin runs the staff directory and sees no customer; support reads customers, talks to them,
/// freezes cards and proposes a goodwill credit or refund; operations does all that, approves
/// another member's money movement and has the ops view.
/// </summary>
public static class StaffPolicies
{
    public const string Support = "support";
    public const string Operations = "operations";
    public const string Admin = "admin";

    /// <summary>The console: customers, their cards and accounts, chat, proposing a money movement.</summary>
    public const string Console = "BulwarkStaffConsole";

    /// <summary>The ops view, the status banner, approving (or refusing) a money movement.</summary>
    public const string OperationsOnly = "BulwarkStaffOperations";

    /// <summary>The staff directory.</summary>
    public const string AdminOnly = "BulwarkStaffAdmin";

    internal static void Add(AuthorizationBuilder builder)
    {
        builder.AddPolicy(Console, policy => Require(policy).RequireClaim(StaffTokens.RoleClaim, Support, Operations));
        builder.AddPolicy(OperationsOnly, policy => Require(policy).RequireClaim(StaffTokens.RoleClaim, Operations));
        builder.AddPolicy(AdminOnly, policy => Require(policy).RequireClaim(StaffTokens.RoleClaim, Admin));
    }

    private static AuthorizationPolicyBuilder Require(AuthorizationPolicyBuilder policy) => policy
        .AddAuthenticationSchemes(StaffTokens.SchemeName)
        .RequireAuthenticatedUser()
        .RequireClaim(StaffTokens.StaffIdClaim);
}

/// <summary>The signed-in staff member behind a request and where it came from: what the audit log records.</summary>
public sealed record StaffActor(string StaffId, string Name, IReadOnlyList<string> Roles, IPAddress Source)
{
    public bool Has(string role) => Roles.Contains(role, StringComparer.Ordinal);

    /// <summary>The actor of a request that passed a staff policy (its claims) and the gate (its source).</summary>
    public static StaffActor From(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var user = http.User;
        return new StaffActor(
            user.FindFirstValue(StaffTokens.StaffIdClaim) ?? throw new InvalidOperationException("The request has no signed-in staff member."),
            user.FindFirstValue(StaffTokens.NameClaim) ?? "",
            [.. user.FindAll(StaffTokens.RoleClaim).Select(claim => claim.Value)],
            StaffApi.Source(http));
    }
}
