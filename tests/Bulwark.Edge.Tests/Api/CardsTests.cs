using System.Net;
using System.Text.Json;
using Bulwark.Edge.Tests.Fakes;

namespace Bulwark.Edge.Tests.Api;

public sealed class CardsTests
{
    [Fact]
    public async Task Cards_LoggedIn_ListsOnlyOwnCards()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/api/cards", token: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cards = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("cards");
        var card = Assert.Single(cards.EnumerateArray());
        Assert.Equal(FakeBank.DemoCardId, card.GetProperty("cardId").GetString());
        Assert.Equal("4242", card.GetProperty("lastFour").GetString());
        Assert.False(card.GetProperty("frozen").GetBoolean());
    }

    [Fact]
    public async Task Freeze_ThenUnfreeze_OwnCard_FlipsFrozen()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var frozen = await host.SendAsync(HttpMethod.Post, $"/api/cards/{FakeBank.DemoCardId}/freeze", token: token);
        var frozenCard = JsonDocument.Parse(await frozen.Content.ReadAsStringAsync()).RootElement;
        using var unfrozen = await host.SendAsync(HttpMethod.Post, $"/api/cards/{FakeBank.DemoCardId}/unfreeze", token: token);
        var unfrozenCard = JsonDocument.Parse(await unfrozen.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, frozen.StatusCode);
        Assert.True(frozenCard.GetProperty("frozen").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, unfrozen.StatusCode);
        Assert.False(unfrozenCard.GetProperty("frozen").GetBoolean());
    }

    [Fact]
    public async Task Freeze_AnotherCustomersCard_Returns404AndLeavesItAlone()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, $"/api/cards/{FakeBank.OtherCardId}/freeze", token: token);

        var problem = await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
        Assert.DoesNotContain("9999", problem.GetRawText(), StringComparison.Ordinal);
        Assert.False(host.Bank.Cards.Single(c => c.CardId == FakeBank.OtherCardId).Frozen);
    }

    [Fact]
    public async Task Freeze_UnknownCard_Returns404()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Post, $"/api/cards/{Guid.NewGuid()}/freeze", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Freeze_NoToken_Returns401()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, $"/api/cards/{FakeBank.DemoCardId}/freeze");

        await Problems.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.False(host.Bank.Cards.Single(c => c.CardId == FakeBank.DemoCardId).Frozen);
    }
}
