using Bulwark.Accounts.Protos;

namespace Bulwark.Accounts.Tests.Grpc;

public sealed class RevokeTokenTests(AccountsHostFixture fixture) : IClassFixture<AccountsHostFixture>
{
    private AccountsTestHost Host => fixture.Host;

    private long InAnHour => Host.Time.GetUtcNow().AddHours(1).ToUnixTimeMilliseconds();

    [Fact]
    public async Task RevokeToken_ThenIsTokenRevoked_TrueForThatIdOnly()
    {
        var tokenId = AccountsTestHost.NewKey();

        await Host.Accounts.RevokeTokenAsync(new RevokeTokenRequest { TokenId = tokenId, CustomerId = Guid.NewGuid().ToString(), ExpiresAtUnixMs = InAnHour });

        Assert.True((await Host.Accounts.IsTokenRevokedAsync(new IsTokenRevokedRequest { TokenId = tokenId })).Revoked);
        Assert.False((await Host.Accounts.IsTokenRevokedAsync(new IsTokenRevokedRequest { TokenId = AccountsTestHost.NewKey() })).Revoked);
    }

    [Fact]
    public async Task RevokeToken_Twice_Fine()
    {
        var request = new RevokeTokenRequest { TokenId = AccountsTestHost.NewKey(), CustomerId = Guid.NewGuid().ToString(), ExpiresAtUnixMs = InAnHour };

        await Host.Accounts.RevokeTokenAsync(request);
        await Host.Accounts.RevokeTokenAsync(request);

        Assert.True((await Host.Accounts.IsTokenRevokedAsync(new IsTokenRevokedRequest { TokenId = request.TokenId })).Revoked);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("x0000000000000000000000000000000000000000000000000000000000000000")]
    public async Task RevokeToken_BadTokenId_InvalidArgumentNamingIt(string tokenId)
    {
        var request = new RevokeTokenRequest { TokenId = tokenId, CustomerId = Guid.NewGuid().ToString(), ExpiresAtUnixMs = InAnHour };

        await RpcAssert.InvalidAsync("token_id", () => Host.Accounts.RevokeTokenAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task RevokeToken_ExpiryBeyondADay_InvalidArgumentNamingIt()
    {
        var request = new RevokeTokenRequest
        {
            TokenId = AccountsTestHost.NewKey(),
            CustomerId = Guid.NewGuid().ToString(),
            ExpiresAtUnixMs = Host.Time.GetUtcNow().AddDays(2).ToUnixTimeMilliseconds(),
        };

        await RpcAssert.InvalidAsync("expires_at_unix_ms", () => Host.Accounts.RevokeTokenAsync(request).ResponseAsync);
    }
}
