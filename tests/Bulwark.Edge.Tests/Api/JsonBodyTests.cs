using System.Net;
using Bulwark.Edge.Tests.Fakes;

namespace Bulwark.Edge.Tests.Api;

/// <summary>Request bodies: a field named twice is refused, whichever way it is spelled, at any depth.</summary>
public sealed class JsonBodyTests
{
    private const string PaymentStart =
        $$"""{"fromAccountId":"{{FakeBank.DemoAccountId}}","toSortCode":"04-00-04","toAccountNumber":"{{FakeBank.OtherAccountNumber}}","currency":"GBP",""";

    [Theory]
    [InlineData("\"amount\":1,\"amount\":150000}")]
    [InlineData("\"amount\":1,\"\\u0061mount\":150000}")]
    public async Task Pay_AmountTwice_Returns400NamingAmountAndMovesNothing(string rest)
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        var before = host.Bank.BalanceOf(FakeBank.OtherAccountLedgerId);

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", PaymentStart + rest, token, EdgeHost.NewIdempotencyKey());

        var problem = await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
        Assert.Contains("more than once", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, host.Bank.BalanceOf(FakeBank.OtherAccountLedgerId));
    }

    [Fact]
    public async Task CreatePot_DuplicateInsideANestedObject_Returns400NamingItsPath()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/pots",
            $$$"""{"accountId":"{{{FakeBank.DemoAccountId}}}","name":"Bike","extra":{"a":1,"a":2}}""", token);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "extra.a");
    }

    [Fact]
    public async Task Login_PasswordTwice_Returns400()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login",
            $$"""{"email":"{{FakeBank.DemoEmail}}","password":"wrong","password":"{{FakeBank.DemoPassword}}"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "password");
    }
}
