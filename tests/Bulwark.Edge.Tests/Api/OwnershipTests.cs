using System.Net;
using System.Text.Json;
using Bulwark.Edge.Tests.Fakes;

namespace Bulwark.Edge.Tests.Api;

/// <summary>Another customer's resource answers exactly like a missing one, on every read and write.</summary>
public sealed class OwnershipTests
{
    private const string MissingId = "5c8e9a1b-6d7f-4e2a-9b3c-4d5e6f7a8b9c";

    public static TheoryData<string, string, string?, string> Requests => new()
    {
        { "GET", "/api/accounts/{0}/balance", null, FakeBank.OtherAccountId },
        { "GET", "/api/accounts/{0}/spent-today", null, FakeBank.OtherAccountId },
        { "GET", "/api/accounts/{0}/feed", null, FakeBank.OtherAccountId },
        { "POST", "/api/pots/{0}/deposit", """{"amount":100,"currency":"GBP"}""", FakeBank.OtherPotId },
        { "POST", "/api/pots/{0}/withdraw", """{"amount":100,"currency":"GBP"}""", FakeBank.OtherPotId },
        { "POST", "/api/pots", """{"accountId":"{0}","name":"Mine now"}""", FakeBank.OtherAccountId },
        { "POST", "/api/payments", """{"fromAccountId":"{0}","toSortCode":"040004","toAccountNumber":"11112222","amount":100,"currency":"GBP"}""", FakeBank.OtherAccountId },
        { "POST", "/api/cards/{0}/freeze", null, FakeBank.OtherCardId },
        { "POST", "/api/cards/{0}/unfreeze", null, FakeBank.OtherCardId },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task AnotherCustomersResource_AnswersExactlyLikeAMissingOne(string method, string template, string? body, string otherId)
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        var other = await SendAsync(host, token, method, template, body, otherId);
        var missing = await SendAsync(host, token, method, template, body, MissingId);

        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal(missing.Status, other.Status);
        Assert.Equal(missing.Problem.GetProperty("type").GetString(), other.Problem.GetProperty("type").GetString());
        Assert.Equal(missing.Problem.GetProperty("title").GetString(), other.Problem.GetProperty("title").GetString());
        // The detail names the id the request sent, nothing else.
        Assert.Equal(missing.Problem.GetProperty("detail").GetString()!.Replace(MissingId, "<id>", StringComparison.Ordinal),
            other.Problem.GetProperty("detail").GetString()!.Replace(otherId, "<id>", StringComparison.Ordinal));
        Assert.Equal(missing.Problem.TryGetProperty("errors", out _), other.Problem.TryGetProperty("errors", out _));
        Assert.Equal(777_777, host.Bank.BalanceOf(FakeBank.OtherAccountLedgerId));
        Assert.Equal(123_456, host.Bank.BalanceOf(FakeBank.OtherPotLedgerId));
        Assert.False(host.Bank.Cards.Single(c => c.CardId == FakeBank.OtherCardId).Frozen);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Problem)> SendAsync(EdgeHost host, string token, string method, string template,
        string? body, string id)
    {
        var path = template.Replace("{0}", id, StringComparison.Ordinal);
        using var response = await host.SendAsync(new HttpMethod(method), path, body?.Replace("{0}", id, StringComparison.Ordinal), token,
            method == "POST" ? EdgeHost.NewIdempotencyKey() : null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }
}
