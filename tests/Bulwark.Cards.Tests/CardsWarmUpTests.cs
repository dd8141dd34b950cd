using Bulwark.Ledger.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Cards.Tests;

public sealed class CardsWarmUpTests
{
    [Fact]
    public async Task WarmUp_EveryTripReachesTheLedgerAndIsRefused_NoMoneyMovesNothingJournalled()
    {
        await using var bank = await CardsBank.StartAsync();
        var settlementBefore = await bank.LedgerAccountAsync(CardsBank.SettlementAccountId.ToString("x32", System.Globalization.CultureInfo.InvariantCulture));
        var customerBefore = await bank.CustomerAccountAsync();

        var refused = await bank.Services.GetRequiredService<CardsWarmUp>().WarmUpAsync(CancellationToken.None);

        // Each trip went down the whole hold path: lookup, balance read, and a hold the ledger decided (and refused).
        Assert.Equal(CardsWarmUp.CallsDefault, refused);
        var warmUpIds = Enumerable.Range(0, CardsWarmUp.CallsDefault).Select(index => CardsBank.Proto(CardsBank.HoldId($"warm-up/{index}")));
        Assert.Empty((await bank.Ledger.GetTransfersAsync(new GetTransfersRequest { Ids = { warmUpIds } })).Transfers);
        Assert.Equal(settlementBefore, await bank.LedgerAccountAsync(CardsBank.SettlementAccountId.ToString("x32", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(customerBefore, await bank.CustomerAccountAsync());
        Assert.Equal(0, bank.Services.GetRequiredService<CardsStatus>().DecisionsWaitingForLedger());

        // And the first real authorisation after it is approved as usual.
        await using (var scheme = await bank.ConnectAsync())
        {
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 100, Messages.NextStan(), bank.Expiry))).GetResponseCode());
        }
        await bank.AssertMoneyConservedAsync();
    }
}
