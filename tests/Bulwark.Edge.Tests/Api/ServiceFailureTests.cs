using System.Net;
using Bulwark.Edge.Tests.Fakes;
using Grpc.Core;

namespace Bulwark.Edge.Tests.Api;

/// <summary>A service that is down is not the same as a thing that does not exist (R14): 503, never 404.</summary>
public sealed class ServiceFailureTests
{
    [Fact]
    public async Task Accounts_AccountsServiceUnavailable_Returns503WithRetryAfter()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Fail(FakeAccounts.Service, StatusCode.Unavailable);

        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: token);

        var problem = await Problems.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "service-unavailable");
        Assert.Equal("Service unavailable.", problem.GetProperty("title").GetString());
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task Balance_LedgerUnavailable_Returns503NotNotFound()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Fail(FakeLedger.Service, StatusCode.Unavailable);

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/balance", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "service-unavailable");
    }

    [Fact]
    public async Task Feed_FeedUnavailable_Returns503()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Fail(FakeFeed.Service, StatusCode.Unavailable);

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/feed", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "service-unavailable");
    }

    [Fact]
    public async Task Balance_LedgerAnswersDeadlineExceeded_Returns504()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Fail(FakeLedger.Service, StatusCode.DeadlineExceeded);

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/balance", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.GatewayTimeout, "gateway-timeout");
    }

    [Fact]
    public async Task Balance_LedgerSlowerThanTheCallDeadline_Returns504()
    {
        await using var host = await EdgeHost.StartAsync(serviceCallTimeout: TimeSpan.FromMilliseconds(200));
        var token = await host.LoginAsync();
        host.Bank.Delay(FakeLedger.Service, TimeSpan.FromSeconds(30));

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/balance", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.GatewayTimeout, "gateway-timeout");
    }

    [Fact]
    public async Task Balance_LedgerInternalError_Returns500WithoutTheServiceMessage()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Fail(FakeLedger.Service, StatusCode.Internal);

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/balance", token: token);

        var problem = await Problems.AssertAsync(response, HttpStatusCode.InternalServerError, "internal");
        Assert.DoesNotContain("secret internal detail", problem.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deposit_AccountsUnavailable_Returns503()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Fail(FakeAccounts.Service, StatusCode.Unavailable);

        using var response = await host.SendAsync(HttpMethod.Post, $"/api/pots/{FakeBank.DemoPotId}/deposit",
            """{"amount":100,"currency":"GBP"}""", token, EdgeHost.NewIdempotencyKey());

        await Problems.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "service-unavailable");
    }

    [Fact]
    public async Task Deposit_BadRequestWhileAccountsUnavailable_Returns400WithoutCallingIt()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Fail(FakeAccounts.Service, StatusCode.Unavailable);
        var callsBefore = host.Bank.CallCount(FakeAccounts.Service);

        using var response = await host.SendAsync(HttpMethod.Post, $"/api/pots/{FakeBank.DemoPotId}/deposit",
            """{"amount":-1,"currency":"GBP"}""", token, EdgeHost.NewIdempotencyKey());

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
        Assert.Equal(callsBefore, host.Bank.CallCount(FakeAccounts.Service));
    }
}
