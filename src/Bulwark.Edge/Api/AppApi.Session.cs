using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Accounts.Protos;
using Bulwark.Edge.Authentication;
using Bulwark.Edge.Problems;
using Bulwark.Edge.Services;
using Bulwark.Edge.Throttling;
using Microsoft.AspNetCore.Http;

namespace Bulwark.Edge.Api;

/// <summary>Login, logout and the check every customer request makes of its token.</summary>
internal sealed partial class AppApi
{
    private const string RevocationCheckedItem = "bulwark.token-revocation-checked";

    public async Task<IResult> LoginAsync(HttpContext http)
    {
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var fields = new RequestFields(body.RootElement);
        var email = fields.RequiredString("email", EdgeLimits.EmailLengthMax);
        var password = fields.RequiredString("password", EdgeLimits.PasswordLengthMax);
        fields.ThrowIfInvalid();

        var source = SourceAddress.Key(http.Connection.RemoteIpAddress);
        var account = email!.Trim().ToLowerInvariant();
        if (loginThrottle.Check(source, account) is { } refusal)
        {
            metrics.RecordLoginFailure("throttled");
            metrics.RecordThrottled(refusal.Limit.ToString().ToLowerInvariant());
            EdgeLog.LoginThrottled(logger, source, AccountHash(account), refusal.Limit.ToString(), (long)Math.Ceiling(refusal.RetryAfter.TotalSeconds));
            // Which limit refused is not said: it would tell a guesser whether the email is being watched.
            throw ProblemException.TooManyRequests("Too many failed logins; wait before trying again (see Retry-After).", refusal.RetryAfter);
        }

        var reply = await caller.CallAsync(ServiceCaller.Accounts,
            options => accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = password }, options), http.RequestAborted);
        if (!reply.Authenticated || string.IsNullOrEmpty(reply.CustomerId))
        {
            loginThrottle.RecordFailure(source, account);
            metrics.RecordLoginFailure("invalid_credentials");
            EdgeLog.LoginFailed(logger, source, AccountHash(account));
            throw new ProblemException(ProblemType.InvalidCredentials, "The email and password do not match.");
        }
        loginThrottle.RecordSuccess(account);
        var token = tokens.Issue(reply.CustomerId);
        EdgeLog.LoggedIn(logger, reply.CustomerId);
        return TypedResults.Json(new LoginResponse(token.Token, "Bearer", token.ExpiresAt, reply.CustomerId), EdgeJsonContext.Default.LoginResponse);
    }

    /// <summary>Revokes the request's token on every edge (the accounts service keeps its id until it expires).</summary>
    public async Task<IResult> LogoutAsync(HttpContext http)
    {
        var customerId = await CustomerIdAsync(http);
        var tokenId = http.User.FindFirstValue(CustomerTokens.TokenIdClaim)!;
        if (!long.TryParse(http.User.FindFirstValue(CustomerTokens.ExpiresClaim), NumberStyles.None, CultureInfo.InvariantCulture, out var expiresAt))
        {
            throw Unauthenticated("The token has no expiry; log in again.");
        }
        await caller.CallAsync(ServiceCaller.Accounts, options => accounts.RevokeTokenAsync(new RevokeTokenRequest
        {
            TokenId = tokenId,
            CustomerId = customerId,
            ExpiresAtUnixMs = expiresAt * 1000,
        }, options), http.RequestAborted);
        EdgeLog.LoggedOut(logger, customerId, tokenId);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// The token's customer, once the accounts service has said the token is not revoked (asked once
    /// per request, and only after the request's own input has been checked: a bad request costs no
    /// call). Every handler takes its customer from here, so no request of a logged-out token gets
    /// through. If the accounts service cannot answer, neither could the handler: 503.
    /// </summary>
    private async Task<string> CustomerIdAsync(HttpContext http)
    {
        var customerId = http.User.FindFirstValue(CustomerTokens.CustomerIdClaim)
            ?? throw Unauthenticated("The token names no customer; log in again.");
        if (http.Items.ContainsKey(RevocationCheckedItem))
        {
            return customerId;
        }
        var tokenId = http.User.FindFirstValue(CustomerTokens.TokenIdClaim);
        if (string.IsNullOrEmpty(tokenId))
        {
            throw Unauthenticated("The token has no id; log in again.");
        }
        var reply = await caller.CallAsync(ServiceCaller.Accounts,
            options => accounts.IsTokenRevokedAsync(new IsTokenRevokedRequest { TokenId = tokenId }, options), http.RequestAborted);
        if (reply.Revoked)
        {
            EdgeLog.RevokedTokenRefused(logger, tokenId, customerId);
            http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            throw Unauthenticated("The token has been revoked (logged out); log in again.");
        }
        http.Items[RevocationCheckedItem] = true;
        return customerId;
    }

    private static ProblemException Unauthenticated(string detail) => new(ProblemType.Unauthenticated, detail);

    /// <summary>Logs name accounts by a short hash of the email, which links a guesser's attempts without writing emails to logs.</summary>
    private static string AccountHash(string account) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(account)))[..12];
}
