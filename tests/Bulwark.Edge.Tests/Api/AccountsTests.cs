using System.Net;
using System.Text.Json;
using Bulwark.Edge.Tests.Fakes;

namespace Bulwark.Edge.Tests.Api;

public sealed class AccountsTests
{
    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task Me_LoggedIn_ReturnsOwnCustomer()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/api/me", token: token);

        var me = await JsonAsync(response);
        Assert.Equal(FakeBank.DemoCustomerId, me.GetProperty("customerId").GetString());
        Assert.Equal("Alex Morgan", me.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Accounts_DemoCustomer_ListsOwnAccountAndPotWithBalances()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: token);

        var body = await JsonAsync(response);
        var account = Assert.Single(body.GetProperty("accounts").EnumerateArray());
        Assert.Equal(FakeBank.DemoAccountId, account.GetProperty("accountId").GetString());
        var balance = account.GetProperty("balance");
        Assert.Equal(FakeBank.DemoSettled - FakeBank.DemoPending, balance.GetProperty("available").GetInt64());
        Assert.Equal(FakeBank.DemoSettled, balance.GetProperty("settled").GetInt64());
        Assert.Equal(FakeBank.DemoPending, balance.GetProperty("pendingOut").GetInt64());
        Assert.Equal(FakeBank.DemoOverdraft, balance.GetProperty("overdraftLimit").GetInt64());
        Assert.Equal("GBP", balance.GetProperty("currency").GetString());
        var pot = Assert.Single(body.GetProperty("pots").EnumerateArray());
        Assert.Equal(FakeBank.DemoPotId, pot.GetProperty("potId").GetString());
        Assert.Equal(FakeBank.DemoPotBalance, pot.GetProperty("balance").GetProperty("available").GetInt64());
    }

    [Fact]
    public async Task Accounts_Response_NeverContainsAnotherCustomersData()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: token);
        var body = await response.Content.ReadAsStringAsync();

        Assert.DoesNotContain(FakeBank.OtherAccountId, body, StringComparison.Ordinal);
        Assert.DoesNotContain("Secret savings", body, StringComparison.Ordinal);
        Assert.DoesNotContain("777777", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Balance_OwnAccount_ReturnsAvailableWithoutPendingAndOverdraftSeparately()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/balance", token: token);

        var balance = await JsonAsync(response);
        Assert.Equal(FakeBank.DemoSettled - FakeBank.DemoPending, balance.GetProperty("available").GetInt64());
        Assert.Equal(FakeBank.DemoOverdraft, balance.GetProperty("overdraftLimit").GetInt64());
    }

    [Fact]
    public async Task Balance_AnotherCustomersAccount_Returns404WithoutTheirDataOrALedgerCall()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.OtherAccountId}/balance", token: token);

        var problem = await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
        Assert.DoesNotContain("777777", problem.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("Sam", problem.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(0, host.Bank.CallCount(FakeLedger.Service));
    }

    [Fact]
    public async Task Balance_UnknownAccount_Returns404()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{Guid.NewGuid()}/balance", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Balance_MalformedAccountId_Returns404WithoutCallingServices()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        var callsBefore = host.Bank.CallCount(FakeAccounts.Service);

        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts/not-an-id/balance", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
        Assert.Equal(callsBefore, host.Bank.CallCount(FakeAccounts.Service));
    }

    [Fact]
    public async Task SpentToday_OwnAccount_ReturnsAmountFromFeed()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/spent-today", token: token);

        var spent = await JsonAsync(response);
        Assert.True(spent.GetProperty("amount").GetInt64() >= FakeBank.DemoPending);
        Assert.Equal("GBP", spent.GetProperty("currency").GetString());
    }

    [Fact]
    public async Task Feed_FirstPage_ReturnsNewestItemsWithMerchantAndCursor()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/feed?limit=10", token: token);

        var page = await JsonAsync(response);
        var items = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(10, items.Count);
        Assert.Equal("Pret A Manger", items[0].GetProperty("description").GetString());
        Assert.Equal("pending", items[0].GetProperty("state").GetString());
        Assert.Equal(-FakeBank.DemoPending, items[0].GetProperty("amount").GetInt64());
        Assert.Equal("10", page.GetProperty("nextCursor").GetString());
    }

    [Fact]
    public async Task Feed_WithCursor_ReturnsTheNextPageUntilTheEnd()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/feed?limit=20&cursor=20", token: token);

        var page = await JsonAsync(response);
        Assert.Equal(FakeBank.DemoFeedItems - 20, page.GetProperty("items").GetArrayLength());
        Assert.False(page.TryGetProperty("nextCursor", out _));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("101")]
    [InlineData("-1")]
    [InlineData("ten")]
    [InlineData("99999999999")]
    public async Task Feed_LimitOutOfRange_Returns400NamingLimit(string limit)
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/feed?limit={limit}", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "limit");
    }

    [Fact]
    public async Task Feed_CursorTooLong_Returns400NamingCursor()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get,
            $"/api/accounts/{FakeBank.DemoAccountId}/feed?cursor={new string('a', EdgeLimits.CursorLengthMax + 1)}", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "cursor");
    }

    [Fact]
    public async Task Feed_CursorTheFeedRefuses_Returns400NamingCursor()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/feed?cursor=made-up", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "cursor");
    }

    [Fact]
    public async Task Feed_AnotherCustomersAccount_Returns404AndNeverCallsTheFeed()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.OtherAccountId}/feed", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
        Assert.Equal(0, host.Bank.CallCount(FakeFeed.Service));
    }

    [Fact]
    public async Task UnknownApiRoute_Returns404Problem()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/api/no-such-thing");

        await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task ProblemType_Path_DescribesTheProblem()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/problems/insufficient-funds");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Insufficient funds", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
