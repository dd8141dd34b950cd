using System.Net;
using System.Text.Json;
using Bulwark.Edge.Tests.Fakes;

namespace Bulwark.Edge.Tests.Api;

public sealed class PayeeThrottleTests
{
    private static string Payment(string accountNumber) => JsonSerializer.Serialize(new
    {
        fromAccountId = FakeBank.DemoAccountId,
        toSortCode = "040004",
        toAccountNumber = accountNumber,
        amount = 100,
        currency = "GBP",
    });

    [Fact]
    public async Task Pay_TooManyUnknownPayees_Returns429ForThatCustomerOnly()
    {
        await using var host = await EdgeHost.StartAsync(options: keyPath => new EdgeOptions { SigningKeyPath = keyPath, PayeeMissesPerCustomerMax = 2 });
        var token = await host.LoginAsync();
        var otherToken = await host.LoginAsync(FakeBank.OtherEmail, FakeBank.OtherPassword);
        using var known = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(FakeBank.OtherAccountNumber), token, EdgeHost.NewIdempotencyKey());
        foreach (var probe in new[] { "00000001", "00000002" })
        {
            using var missing = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(probe), token, EdgeHost.NewIdempotencyKey());
            await Problems.AssertAsync(missing, HttpStatusCode.NotFound, "not-found");
        }
        var balance = host.Bank.BalanceOf(FakeBank.OtherAccountLedgerId);

        using var refused = await host.SendAsync(HttpMethod.Post, "/api/payments", Payment(FakeBank.OtherAccountNumber), token, EdgeHost.NewIdempotencyKey());
        using var otherCustomer = await host.SendAsync(HttpMethod.Post, "/api/payments",
            JsonSerializer.Serialize(new { fromAccountId = FakeBank.OtherAccountId, toSortCode = "040004", toAccountNumber = "00000003", amount = 100, currency = "GBP" }),
            otherToken, EdgeHost.NewIdempotencyKey());

        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        await Problems.AssertAsync(refused, HttpStatusCode.TooManyRequests, "too-many-requests");
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.Equal(balance, host.Bank.BalanceOf(FakeBank.OtherAccountLedgerId));
        await Problems.AssertAsync(otherCustomer, HttpStatusCode.NotFound, "not-found");
    }
}
