using System.Security.Claims;
using Bulwark.Edge.Authentication;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bulwark.Edge.Staff;

/// <summary>
/// Issues and describes staff bearer tokens: JWTs signed with HMAC-SHA256 by the staff ring's
/// newest key (a ring of its own, never the customers'), with an issuer and audience of their own,
/// the staff id in <c>sub</c>, the name, every role in <c>role</c>, a random token id in <c>jti</c>
/// and <c>amr</c> = pwd, otp (both factors were checked). A customer token fails here on its
/// signature, issuer and audience alike, and a staff token fails on the app API the same way.
/// </summary>
internal sealed class StaffTokens(SigningKeyRing keys, StaffEdgeOptions options, TimeProvider timeProvider)
{
    public const string SchemeName = "BulwarkStaff";
    public const string PolicyName = "BulwarkStaff";
    public const string Issuer = "bulwark-staff-edge";
    public const string Audience = "bulwark-staff";
    public const string StaffIdClaim = "sub";
    public const string NameClaim = "name";
    public const string RoleClaim = "role";
    public const string TokenIdClaim = "jti";
    public const string MethodsClaim = "amr";

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public IssuedToken Issue(StaffMember member)
    {
        ArgumentNullException.ThrowIfNull(member);
        var now = timeProvider.GetUtcNow();
        var expires = now.Add(options.TokenLifetime);
        var claims = new List<Claim>
        {
            new(StaffIdClaim, member.StaffId),
            new(NameClaim, member.Name),
            new(TokenIdClaim, Guid.NewGuid().ToString("N")),
        };
        claims.AddRange(member.Roles.Select(role => new Claim(RoleClaim, role)));
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            Subject = new ClaimsIdentity(claims),
            Claims = new Dictionary<string, object> { [MethodsClaim] = new[] { "pwd", "otp" } },
            SigningCredentials = new SigningCredentials(keys.Signing.Key, SecurityAlgorithms.HmacSha256),
        };
        return new IssuedToken(_handler.CreateToken(descriptor), DateTimeOffset.FromUnixTimeSeconds(expires.ToUnixTimeSeconds()));
    }

    public TokenValidationParameters ValidationParameters() => new()
    {
        ValidIssuer = Issuer,
        ValidAudience = Audience,
        IssuerSigningKeyResolver = (_, _, keyId, _) => keys.Resolve(keyId),
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        ValidateIssuer = true,
        ValidateAudience = true,
        ValidateIssuerSigningKey = true,
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        ValidateLifetime = true,
        NameClaimType = NameClaim,
        RoleClaimType = RoleClaim,
        LifetimeValidator = ValidateLifetime,
    };

    private bool ValidateLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters) =>
        TokenLifetime.IsValid(notBefore, expires, timeProvider);
}
