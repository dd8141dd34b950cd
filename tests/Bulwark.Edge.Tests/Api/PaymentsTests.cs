using System.Net;
using System.Text.Json;
using Bulwark.Edge.Tests.Fakes;

namespace Bulwark.Edge.Tests.Api;

public sealed class PaymentsTests
{
    private static string Payment(string from = FakeBank.DemoAccountId, string sortCode = "04-00-04", string accountNumber = FakeBank.OtherAccountNumber,
        string amount = "1500", string currency = "GBP") =>
        $$"""{"fromAccountId":"{{from}}","toSortCode":"{{sortCode}}","toAccountNumber":"{{accountNumber}}","amount":{{amount}},"currency":"{{currency}}","reference":"Dinner"}""";

    [Fact]
    public async Task Pay_Valid_MovesMoneyToThePayee()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        var before = host.Bank.BalanceOf(FakeBank.OtherAccountLedgerId);

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(), token, EdgeHost.NewIdempotencyKey());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var movement = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(1500, movement.GetProperty("amount").GetInt64());
        Assert.Equal(before + 1500, host.Bank.BalanceOf(FakeBank.OtherAccountLedgerId));
    }

    [Fact]
    public async Task Pay_MissingIdempotencyKey_Returns400NamingTheHeader()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(), token);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "idempotency-key", "Idempotency-Key");
    }

    [Fact]
    public async Task Pay_SortCodeWithLetters_Returns400NamingToSortCode()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(sortCode: "04-00-0A"), token, EdgeHost.NewIdempotencyKey());

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "toSortCode");
    }

    [Fact]
    public async Task Pay_AccountNumberTooShort_Returns400NamingToAccountNumber()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(accountNumber: "1234"), token, EdgeHost.NewIdempotencyKey());

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "toAccountNumber");
    }

    [Fact]
    public async Task Pay_SeveralBadFields_NamesEveryOne()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments",
            Payment(sortCode: "x", accountNumber: "y", amount: "0", currency: "XXX"), token, EdgeHost.NewIdempotencyKey());

        var problem = await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "toSortCode");
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("toAccountNumber", out _));
        Assert.True(errors.TryGetProperty("amount", out _));
        Assert.True(errors.TryGetProperty("currency", out _));
    }

    [Fact]
    public async Task Pay_AmountOverflowingLong_Returns400NamingAmount()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(amount: "9223372036854775808"), token, EdgeHost.NewIdempotencyKey());

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
    }

    [Fact]
    public async Task Pay_CurrencyDiffersFromAccount_Returns422CurrencyMismatch()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(currency: "USD"), token, EdgeHost.NewIdempotencyKey());

        await Problems.AssertAsync(response, (HttpStatusCode)422, "currency-mismatch", "currency");
    }

    [Fact]
    public async Task Pay_MoreThanAvailable_Returns422InsufficientFunds()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(amount: "500000000"), token, EdgeHost.NewIdempotencyKey());

        await Problems.AssertAsync(response, (HttpStatusCode)422, "insufficient-funds");
    }

    [Fact]
    public async Task Pay_FromAnotherCustomersAccount_Returns404AndMovesNothing()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments",
            Payment(from: FakeBank.OtherAccountId, accountNumber: FakeBank.DemoAccountNumber), token, EdgeHost.NewIdempotencyKey());

        await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
        Assert.Equal(777_777, host.Bank.BalanceOf(FakeBank.OtherAccountLedgerId));
    }

    [Fact]
    public async Task Pay_UnknownPayee_Returns404()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(accountNumber: "99999999"), token, EdgeHost.NewIdempotencyKey());

        await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Pay_ReferenceTooLong_Returns400NamingReference()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        var json = Payment().Replace("\"Dinner\"", "\"A reference far too long for a bank\"", StringComparison.Ordinal);

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", json, token, EdgeHost.NewIdempotencyKey());

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "reference");
    }
}
