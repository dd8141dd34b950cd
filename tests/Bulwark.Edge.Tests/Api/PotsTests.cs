using System.Net;
using System.Text.Json;
using Bulwark.Edge.Tests.Fakes;

namespace Bulwark.Edge.Tests.Api;

public sealed class PotsTests
{
    private const string DepositPath = $"/api/pots/{FakeBank.DemoPotId}/deposit";
    private const string WithdrawPath = $"/api/pots/{FakeBank.DemoPotId}/withdraw";

    private static async Task<HttpResponseMessage> DepositAsync(EdgeHost host, string token, string json, string? key = null, string path = DepositPath) =>
        await host.SendAsync(HttpMethod.Post, path, json, token, key ?? EdgeHost.NewIdempotencyKey());

    [Fact]
    public async Task Pots_LoggedIn_ListsOwnPotsWithBalances()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/api/pots", token: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var pots = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("pots");
        var pot = Assert.Single(pots.EnumerateArray());
        Assert.Equal("Holiday", pot.GetProperty("name").GetString());
        Assert.Equal(FakeBank.DemoPotBalance, pot.GetProperty("balance").GetProperty("available").GetInt64());
    }

    [Fact]
    public async Task Deposit_Valid_MovesMoneyFromAccountIntoPot()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        var accountBefore = host.Bank.BalanceOf(FakeBank.DemoAccountLedgerId);

        using var response = await DepositAsync(host, token, """{"amount":2500,"currency":"GBP"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var movement = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(2500, movement.GetProperty("amount").GetInt64());
        Assert.False(movement.GetProperty("duplicate").GetBoolean());
        Assert.Equal(accountBefore - 2500, host.Bank.BalanceOf(FakeBank.DemoAccountLedgerId));
        Assert.Equal(FakeBank.DemoPotBalance + 2500, host.Bank.BalanceOf(FakeBank.DemoPotLedgerId));
    }

    [Fact]
    public async Task Deposit_UseOverdraft_PassesTheCustomersPermissionToAccounts()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var without = await DepositAsync(host, token, """{"amount":100,"currency":"GBP"}""");
        using var with = await DepositAsync(host, token, """{"amount":100,"currency":"GBP","useOverdraft":true}""");
        using var withdraw = await DepositAsync(host, token, """{"amount":100,"currency":"GBP","useOverdraft":true}""", path: WithdrawPath);

        Assert.Equal(HttpStatusCode.OK, with.StatusCode);
        Assert.Equal([false, true, false], host.Bank.MoveMoneyRequests.Select(request => request.UseOverdraft));
    }

    [Fact]
    public async Task Deposit_UseOverdraftNotABoolean_Returns400NamingIt()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":100,"currency":"GBP","useOverdraft":"yes"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "useOverdraft");
        Assert.Empty(host.Bank.MoveMoneyRequests);
    }

    [Fact]
    public async Task Withdraw_Valid_MovesMoneyOutOfPot()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":1000,"currency":"GBP"}""", path: WithdrawPath);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(FakeBank.DemoPotBalance - 1000, host.Bank.BalanceOf(FakeBank.DemoPotLedgerId));
    }

    [Fact]
    public async Task Deposit_SameIdempotencyKeyTwice_MovesMoneyOnceAndSaysDuplicate()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        var key = EdgeHost.NewIdempotencyKey();

        using var first = await DepositAsync(host, token, """{"amount":700,"currency":"GBP"}""", key);
        using var second = await DepositAsync(host, token, """{"amount":700,"currency":"GBP"}""", key.ToUpperInvariant());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var replay = JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement;
        Assert.True(replay.GetProperty("duplicate").GetBoolean());
        Assert.Equal("true", Assert.Single(second.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(FakeBank.DemoPotBalance + 700, host.Bank.BalanceOf(FakeBank.DemoPotLedgerId));
    }

    [Fact]
    public async Task Deposit_MissingIdempotencyKey_Returns400NamingTheHeader()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, DepositPath, """{"amount":100,"currency":"GBP"}""", token);

        var problem = await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "idempotency-key", "Idempotency-Key");
        Assert.Contains("Idempotency-Key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0123456789abcdef0123456789abcdeg")]
    [InlineData("0123456789abcdef0123456789abcdef00")]
    [InlineData("00000000000000000000000000000000")]
    public async Task Deposit_MalformedIdempotencyKey_Returns400NamingTheHeader(string key)
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":100,"currency":"GBP"}""", key);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "idempotency-key", "Idempotency-Key");
    }

    [Fact]
    public async Task Deposit_MalformedJson_Returns400MalformedJson()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":100,"currency":"GBP" """);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "malformed-json");
    }

    [Fact]
    public async Task Deposit_AmountZero_Returns400NamingAmount()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":0,"currency":"GBP"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
    }

    [Fact]
    public async Task Deposit_AmountNegative_Returns400NamingAmount()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":-500,"currency":"GBP"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
    }

    [Fact]
    public async Task Deposit_AmountLargerThanLong_Returns400NamingAmount()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":99999999999999999999,"currency":"GBP"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
    }

    [Fact]
    public async Task Deposit_AmountWithExponent_Returns400NamingAmount()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":1e30,"currency":"GBP"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
    }

    [Fact]
    public async Task Deposit_AmountWithFraction_Returns400NamingAmount()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":12.5,"currency":"GBP"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
    }

    [Fact]
    public async Task Deposit_AmountAsString_Returns400NamingAmount()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":"100","currency":"GBP"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
    }

    [Fact]
    public async Task Deposit_AmountMissing_Returns400NamingAmount()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"currency":"GBP"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
    }

    [Fact]
    public async Task Deposit_UnknownCurrency_Returns400NamingCurrency()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":100,"currency":"GPB"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "currency");
    }

    [Fact]
    public async Task Deposit_CurrencyMissing_Returns400NamingCurrency()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":100}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "currency");
    }

    [Fact]
    public async Task Deposit_CurrencyDiffersFromPot_Returns422CurrencyMismatch()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":100,"currency":"EUR"}""");

        await Problems.AssertAsync(response, (HttpStatusCode)422, "currency-mismatch", "currency");
        Assert.Equal(FakeBank.DemoPotBalance, host.Bank.BalanceOf(FakeBank.DemoPotLedgerId));
    }

    [Fact]
    public async Task Deposit_MoreThanAvailable_Returns422InsufficientFunds()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":999999999,"currency":"GBP"}""");

        var problem = await Problems.AssertAsync(response, (HttpStatusCode)422, "insufficient-funds");
        Assert.Equal("Insufficient funds.", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Deposit_AnotherCustomersPot_Returns404WithoutTheirData()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":100,"currency":"GBP"}""", path: $"/api/pots/{FakeBank.OtherPotId}/deposit");

        var problem = await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
        Assert.DoesNotContain("Secret savings", problem.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(123_456, host.Bank.BalanceOf(FakeBank.OtherPotLedgerId));
    }

    [Fact]
    public async Task Deposit_UnknownPot_Returns404()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await DepositAsync(host, token, """{"amount":100,"currency":"GBP"}""", path: $"/api/pots/{Guid.NewGuid()}/deposit");

        await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task CreatePot_Valid_Returns201WithEmptyPot()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/pots",
            $$"""{"accountId":"{{FakeBank.DemoAccountId}}","name":"New bike","goalAmount":80000}""", token);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var pot = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("New bike", pot.GetProperty("name").GetString());
        Assert.Equal(80000, pot.GetProperty("goalAmount").GetInt64());
        Assert.Equal(0, pot.GetProperty("balance").GetProperty("available").GetInt64());
    }

    [Fact]
    public async Task CreatePot_NameMissing_Returns400NamingName()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/pots", $$"""{"accountId":"{{FakeBank.DemoAccountId}}"}""", token);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "name");
    }

    [Fact]
    public async Task CreatePot_NameTooLong_Returns400NamingName()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/pots",
            $$"""{"accountId":"{{FakeBank.DemoAccountId}}","name":"{{new string('n', EdgeLimits.PotNameLengthMax + 1)}}"}""", token);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "name");
    }

    [Fact]
    public async Task CreatePot_NegativeGoal_Returns400NamingGoalAmount()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/pots",
            $$"""{"accountId":"{{FakeBank.DemoAccountId}}","name":"Car","goalAmount":-1}""", token);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "goalAmount");
    }

    [Fact]
    public async Task CreatePot_OnAnotherCustomersAccount_Returns404()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/pots",
            $$"""{"accountId":"{{FakeBank.OtherAccountId}}","name":"Mine now"}""", token);

        await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
    }
}
