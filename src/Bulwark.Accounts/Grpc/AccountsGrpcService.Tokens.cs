using System.Globalization;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Storage;
using Bulwark.Accounts.Validation;
using Grpc.Core;

namespace Bulwark.Accounts.Grpc;

/// <summary>
/// Revoked customer tokens. The edge signs and checks tokens itself, but a logout must hold on every
/// edge instance, so the revoked ids live here, in the one store all edges reach.
/// </summary>
internal sealed partial class AccountsGrpcService
{
    public override async Task<RevokeTokenResponse> RevokeToken(RevokeTokenRequest request, ServerCallContext context)
    {
        var tokenId = TokenId(request.TokenId);
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var now = NowUnixMs();
        if (request.ExpiresAtUnixMs <= 0 || request.ExpiresAtUnixMs > now + AccountsLimits.RevokedTokenLifetimeMillisecondsMax)
        {
            throw AccountsErrors.Invalid("expires_at_unix_ms", string.Create(CultureInfo.InvariantCulture,
                $"must be the token's expiry, at most {AccountsLimits.RevokedTokenLifetimeMillisecondsMax} ms ahead"));
        }
        await store.RevokeTokenAsync(new RevokedTokenRecord(tokenId, customerId, request.ExpiresAtUnixMs, now), now,
            AccountsLimits.RevokedTokensPurgeBatchMax, context.CancellationToken);
        return new RevokeTokenResponse();
    }

    public override async Task<IsTokenRevokedResponse> IsTokenRevoked(IsTokenRevokedRequest request, ServerCallContext context)
    {
        var tokenId = TokenId(request.TokenId);
        return new IsTokenRevokedResponse { Revoked = await store.IsTokenRevokedAsync(tokenId, context.CancellationToken) };
    }

    private static string TokenId(string value)
    {
        if (value.Length is 0 or > AccountsLimits.TokenIdLengthMax || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw AccountsErrors.Invalid("token_id", string.Create(CultureInfo.InvariantCulture,
                $"must be 1 to {AccountsLimits.TokenIdLengthMax} characters of letters, digits, '-' and '_'"));
        }
        return value;
    }
}
