using Bulwark.Cards.Protos;
using Grpc.Core;

namespace Bulwark.Cards.Tests.Journal;

/// <summary>The processor's internal contract (cards.proto): its journal in pages, and RepostHold's refusals and idempotence.</summary>
public sealed class CardJournalGrpcServiceTests
{
    [Fact]
    public async Task ListDecisions_PagesOfOne_EveryDecisionOnceWithItsStateAndWindowFilters()
    {
        await using var bank = await CardsBank.StartAsync();
        await using (var scheme = await bank.ConnectAsync())
        {
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 100, Messages.NextStan(), bank.Expiry))).GetResponseCode());
            Assert.Equal("51", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, CardsBank.OpeningBalance * 10, Messages.NextStan(), bank.Expiry))).GetResponseCode());
        }

        var seen = new List<Decision>();
        var cursor = "";
        do
        {
            var page = await bank.Cards.ListDecisionsAsync(new ListDecisionsRequest { Limit = 1, Cursor = cursor });
            Assert.InRange(page.Decisions.Count, 1, 1);
            seen.AddRange(page.Decisions);
            cursor = page.NextCursor;
        }
        while (cursor.Length > 0);

        Assert.Equal(2, seen.Count);
        Assert.Equal(seen.Select(d => d.Key).Order(StringComparer.Ordinal), seen.Select(d => d.Key));
        var held = Assert.Single(seen, d => d.State == DecisionState.Held);
        Assert.Equal(100, held.Amount);
        Assert.Equal(bank.LedgerAccountId, held.DebitAccountId);
        Assert.Single(seen, d => d.State == DecisionState.Declined && d.ResponseCode == "51");
        var future = DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds();
        Assert.Empty((await bank.Cards.ListDecisionsAsync(new ListDecisionsRequest { UpdatedFromUnixMs = future })).Decisions);
        Assert.Equal(2, (await bank.Cards.ListDecisionsAsync(new ListDecisionsRequest { UpdatedBeforeUnixMs = future })).Decisions.Count);
        var refused = await Assert.ThrowsAsync<RpcException>(() => bank.Cards.ListDecisionsAsync(new ListDecisionsRequest { Limit = 1_001 }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
    }

    [Fact]
    public async Task RepostHold_HeldDeclinedAndUnknown_AlreadyHeldNothingWrittenOrRefused()
    {
        await using var bank = await CardsBank.StartAsync();
        await using (var scheme = await bank.ConnectAsync())
        {
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 100, Messages.NextStan(), bank.Expiry))).GetResponseCode());
            Assert.Equal("51", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, CardsBank.OpeningBalance * 10, Messages.NextStan(), bank.Expiry))).GetResponseCode());
        }
        var decisions = (await bank.Cards.ListDecisionsAsync(new ListDecisionsRequest())).Decisions;
        var held = decisions.Single(d => d.State == DecisionState.Held);
        var declined = decisions.Single(d => d.State == DecisionState.Declined);

        var again = await bank.Cards.RepostHoldAsync(new RepostHoldRequest { Key = held.Key });

        Assert.True(again.AlreadyHeld);
        Assert.Equal(held.HoldId, again.HoldId);
        Assert.Single(await bank.CardTransfersAsync());
        Assert.Equal(100, (await bank.CustomerAccountAsync()).DebitsPending);
        var notHeld = await Assert.ThrowsAsync<RpcException>(() => bank.Cards.RepostHoldAsync(new RepostHoldRequest { Key = declined.Key }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, notHeld.StatusCode);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => bank.Cards.RepostHoldAsync(new RepostHoldRequest { Key = "000000:000000000000:000000" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        await bank.AssertMoneyConservedAsync();
    }
}
