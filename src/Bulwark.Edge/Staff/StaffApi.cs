using System.Net;
using System.Security.Claims;
using Bulwark.Edge.Api;
using Bulwark.Edge.Problems;
using Bulwark.Edge.Throttling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Bulwark.Edge.Staff;

internal sealed record StaffLoginResponse(string Token, string TokenType, DateTimeOffset ExpiresAt, string StaffId, string Name, IReadOnlyList<string> Roles);

internal sealed record StaffMeResponse(string StaffId, string Name, IReadOnlyList<string> Roles, string Source, string AllowedRanges, string AllowedRangesOrigin);

/// <summary>
/// The staff API under <see cref="StaffPaths.Api"/>, on the staff port only (<see cref="StaffEdgeGate"/>
/// has checked the source before any of it runs): login with password and TOTP code, and who the
/// token's holder is. The console and the ops view build on it.
/// </summary>
internal sealed partial class StaffApi(IStaffAuthenticator authenticator, StaffTokens tokens, IStaffSourceRanges ranges, StaffEdgeOptions options,
    TimeProvider time, StaffEdgeMetrics metrics, ILogger<StaffApi> logger) : IDisposable
{
    /// <summary>
    /// The edge's own failure budgets per source and per email, apart from the customers' (the staff
    /// directory locks a member too): the app API's default limits (only those are read of the options).
    /// </summary>
    private readonly LoginThrottle _throttle = new(new EdgeOptions { SigningKeyPath = options.SigningKeyPath }, time);

    public void Dispose() => _throttle.Dispose();

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup(StaffPaths.Api).AddEndpointFilter(AppApiEndpoints.ProblemFilterAsync);
        api.MapPost("/login", (HttpContext http, StaffApi staff) => staff.LoginAsync(http)).AllowAnonymous();
        api.MapFallback("{**path}", (HttpContext http) =>
            new ProblemResult(ProblemType.NotFound, $"There is no staff API endpoint {http.Request.Method} {http.Request.Path}.")).AllowAnonymous();
        var signedIn = api.MapGroup("").RequireAuthorization(StaffTokens.PolicyName);
        signedIn.MapGet("/me", (HttpContext http, StaffApi staff) => staff.Me(http));
        StaffConsoleApi.Map(api);
    }

    public async Task<IResult> LoginAsync(HttpContext http)
    {
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var fields = new RequestFields(body.RootElement);
        var email = fields.RequiredString("email", StaffEdgeLimits.EmailLengthMax);
        var password = fields.RequiredString("password", StaffEdgeLimits.PasswordLengthMax);
        var code = fields.RequiredString("totp", StaffEdgeLimits.TotpCodeLengthMax);
        if (code is not null && !code.All(char.IsAsciiDigit))
        {
            fields.Fail("totp", "totp must be the digits your authenticator app shows.");
        }
        fields.ThrowIfInvalid();

        var source = Source(http);
        var sourceKey = SourceAddress.Key(source);
        var account = email!.Trim().ToLowerInvariant();
        if (_throttle.Check(sourceKey, account) is { } refusal)
        {
            metrics.Login("throttled");
            throw ProblemException.TooManyRequests("Too many failed logins; wait before trying again (see Retry-After).", refusal.RetryAfter);
        }
        var outcome = await authenticator.AuthenticateAsync(email, password!, code!, source, http.RequestAborted);
        switch (outcome)
        {
            case StaffLoginOutcome.Authenticated { Member: var member }:
                _throttle.RecordSuccess(account);
                metrics.Login("ok");
                LogLoggedIn(logger, member.StaffId, string.Join(",", member.Roles), source.ToString());
                var token = tokens.Issue(member);
                return TypedResults.Json(new StaffLoginResponse(token.Token, "Bearer", token.ExpiresAt, member.StaffId, member.Name, member.Roles),
                    StaffJsonContext.Default.StaffLoginResponse);
            case StaffLoginOutcome.Locked { RetryAfter: var wait }:
                metrics.Login("locked");
                LogLocked(logger, source.ToString());
                throw ProblemException.TooManyRequests("Too many failed logins for this staff member; wait before trying again (see Retry-After).", wait);
            default:
                _throttle.RecordFailure(sourceKey, account);
                metrics.Login("refused");
                LogRefused(logger, source.ToString());
                throw new ProblemException(ProblemType.InvalidCredentials, "The email, password and code do not match an active staff member.");
        }
    }

    public IResult Me(HttpContext http)
    {
        var user = http.User;
        var allowed = ranges.Current;
        return TypedResults.Json(new StaffMeResponse(
            user.FindFirstValue(StaffTokens.StaffIdClaim) ?? "",
            user.FindFirstValue(StaffTokens.NameClaim) ?? "",
            [.. user.FindAll(StaffTokens.RoleClaim).Select(claim => claim.Value)],
            Source(http).ToString(),
            string.Join(", ", allowed.Networks.Blocks),
            allowed.Origin), StaffJsonContext.Default.StaffMeResponse);
    }

    /// <summary>The source the gate resolved (the TCP peer, or the client behind a trusted proxy).</summary>
    internal static IPAddress Source(HttpContext http) =>
        http.Items[StaffEdgeGate.SourceItem] as IPAddress ?? http.Connection.RemoteIpAddress ?? IPAddress.None;

    [LoggerMessage(EventId = 4103, Level = LogLevel.Information, Message = "Staff member {StaffId} ({Roles}) logged in from {Source}")]
    private static partial void LogLoggedIn(ILogger logger, string staffId, string roles, string source);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Warning, Message = "Failed staff login from {Source}")]
    private static partial void LogRefused(ILogger logger, string source);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Warning, Message = "Staff login from {Source} refused: the staff member is locked after too many failures")]
    private static partial void LogLocked(ILogger logger, string source);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(StaffLoginResponse))]
[System.Text.Json.Serialization.JsonSerializable(typeof(StaffMeResponse))]
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(StaffSearchResponse))]
[System.Text.Json.Serialization.JsonSerializable(typeof(StaffCustomerView))]
[System.Text.Json.Serialization.JsonSerializable(typeof(StaffCardResponse))]
[System.Text.Json.Serialization.JsonSerializable(typeof(StaffAccountResponse))]
[System.Text.Json.Serialization.JsonSerializable(typeof(FeedResponse))]
internal sealed partial class StaffJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
