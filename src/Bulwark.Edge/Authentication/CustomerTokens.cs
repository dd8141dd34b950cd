using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bulwark.Edge.Authentication;

/// <summary>A token handed to a customer at login.</summary>
internal sealed record IssuedToken(string Token, DateTimeOffset ExpiresAt);

/// <summary>
/// Issues and describes customer bearer tokens: JWTs signed with HMAC-SHA256 by the newest key of the
/// <see cref="SigningKeyRing"/> (its id in the header's <c>kid</c>), the customer id in <c>sub</c> and a
/// random token id in <c>jti</c> (what a logout revokes). Validation is done by the JwtBearer handler
/// with <see cref="ValidationParameters"/>, which accepts every key of the ring.
/// </summary>
internal sealed class CustomerTokens(SigningKeyRing keys, EdgeOptions options, TimeProvider timeProvider)
{
    public const string SchemeName = "BulwarkCustomer";
    public const string PolicyName = "BulwarkCustomer";
    public const string CustomerIdClaim = "sub";
    public const string TokenIdClaim = "jti";
    public const string ExpiresClaim = "exp";

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public IssuedToken Issue(string customerId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(customerId);
        var now = timeProvider.GetUtcNow();
        var expires = now.Add(options.TokenLifetime);
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = options.Issuer,
            Audience = options.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            Subject = new ClaimsIdentity([new Claim(CustomerIdClaim, customerId), new Claim(TokenIdClaim, Guid.NewGuid().ToString("N"))]),
            // The key carries its id, so the handler writes it into the header as kid.
            SigningCredentials = new SigningCredentials(keys.Signing.Key, SecurityAlgorithms.HmacSha256),
        };
        // JWT times are whole seconds; the expiry reported to the client is the one in the token.
        return new IssuedToken(_handler.CreateToken(descriptor), DateTimeOffset.FromUnixTimeSeconds(expires.ToUnixTimeSeconds()));
    }

    public TokenValidationParameters ValidationParameters() => new()
    {
        ValidIssuer = options.Issuer,
        ValidAudience = options.Audience,
        IssuerSigningKeyResolver = (_, _, keyId, _) => keys.Resolve(keyId),
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        ValidateIssuer = true,
        ValidateAudience = true,
        ValidateIssuerSigningKey = true,
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        ValidateLifetime = true,
        NameClaimType = CustomerIdClaim,
        // Lifetime is checked against the injected clock so that expiry is testable and follows the
        // same time source that stamped the token.
        LifetimeValidator = ValidateLifetime,
    };

    private bool ValidateLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters) =>
        TokenLifetime.IsValid(notBefore, expires, timeProvider);
}
