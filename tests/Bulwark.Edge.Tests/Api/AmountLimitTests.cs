using System.Net;
using Bulwark.Edge.Tests.Fakes;

namespace Bulwark.Edge.Tests.Api;

/// <summary>Amount messages state the bank's real limit (1,000,000,000.00), not the size of a 64-bit integer.</summary>
public sealed class AmountLimitTests
{
    private static string Payment(string amount) =>
        $$"""{"fromAccountId":"{{FakeBank.DemoAccountId}}","toSortCode":"04-00-04","toAccountNumber":"{{FakeBank.OtherAccountNumber}}","amount":{{amount}},"currency":"GBP"}""";

    [Theory]
    [InlineData("100000000001")]
    [InlineData("9223372036854775807")]
    [InlineData("9223372036854775808")]
    public async Task Pay_AmountAboveTheLimit_Returns400StatingTheRealLimit(string amount)
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(amount), token, EdgeHost.NewIdempotencyKey());

        var problem = await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "amount");
        var message = problem.GetProperty("errors").GetProperty("amount")[0].GetString()!;
        Assert.Contains("100000000000", message, StringComparison.Ordinal);
        Assert.Contains("1,000,000,000.00", message, StringComparison.Ordinal);
        Assert.DoesNotContain("9223372036854775807", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pay_AmountAtTheLimit_PassesTheEdge()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment("100000000000"), token, EdgeHost.NewIdempotencyKey());

        // The demo account cannot pay that much: the answer comes from the accounts service, not the edge.
        await Problems.AssertAsync(response, HttpStatusCode.UnprocessableEntity, "insufficient-funds");
    }

    [Fact]
    public async Task CreatePot_GoalAboveTheLimit_Returns400StatingTheRealLimit()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/pots",
            $$"""{"accountId":"{{FakeBank.DemoAccountId}}","name":"Moon","goalAmount":100000000001}""", token);

        var problem = await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "goalAmount");
        Assert.Contains("1,000,000,000.00", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
