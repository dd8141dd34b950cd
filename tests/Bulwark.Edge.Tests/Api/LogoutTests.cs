using System.Net;
using Bulwark.Edge.Tests.Fakes;
using Grpc.Core;

namespace Bulwark.Edge.Tests.Api;

public sealed class LogoutTests
{
    [Fact]
    public async Task Logout_ThenSameToken_Returns401UntilExpiryWhileOtherTokensWork()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        var otherSession = await host.LoginAsync();

        using var logout = await host.SendAsync(HttpMethod.Post, "/api/logout", token: token);
        using var afterLogout = await host.SendAsync(HttpMethod.Get, "/api/me", token: token);
        host.Time.Advance(TimeSpan.FromMinutes(59));
        using var laterStill = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: token);
        using var other = await host.SendAsync(HttpMethod.Get, "/api/me", token: otherSession);

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        var problem = await Problems.AssertAsync(afterLogout, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Contains("revoked", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("Bearer", afterLogout.Headers.WwwAuthenticate.Single().Scheme);
        await Problems.AssertAsync(laterStill, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task Logout_OnOneEdge_TokenRefusedByTheOtherEdge()
    {
        var bank = new FakeBank();
        await using var first = await EdgeHost.StartAsync(bank: bank);
        await using var second = await EdgeHost.StartAsync(bank: bank, signingKeyPath: first.SigningKeyPath);
        var token = await first.LoginAsync();
        using var before = await second.SendAsync(HttpMethod.Get, "/api/me", token: token);

        using var logout = await first.SendAsync(HttpMethod.Post, "/api/logout", token: token);
        using var after = await second.SendAsync(HttpMethod.Get, "/api/me", token: token);

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        await Problems.AssertAsync(after, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Logout_WithoutToken_Returns401()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/logout");

        await Problems.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Request_AccountsCannotSayWhetherRevoked_Returns503NotAccepted()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Fail(FakeAccounts.Service, StatusCode.Unavailable);

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/spent-today", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "service-unavailable");
    }
}
