using System.Globalization;
using Bulwark.Accounts.Protos;
using Bulwark.Ledger.Protos;

namespace Bulwark.Cards.Tests;

/// <summary>
/// Issue 11 end to end, on the real ledger and accounts: a customer who knows (or guesses) the
/// hold id of a card payment still to come cannot take it with an idempotency key.
/// </summary>
public sealed class IdNamespaceTests
{
    [Fact]
    public async Task Authorise_CustomerUsedTheComingHoldIdAsAnIdempotencyKey_StillApprovedWithItsHold()
    {
        await using var bank = await CardsBank.StartAsync();
        var stan = Messages.NextStan();
        var holdId = CardsBank.HoldId(string.Create(CultureInfo.InvariantCulture, $"{Messages.Acquirer}:{Messages.Rrn(stan)}:{stan:D6}"));
        var pot = await bank.Accounts.CreatePotAsync(new CreatePotRequest { CustomerId = bank.CustomerId, AccountId = bank.AccountId, Name = "Squat" });
        var movement = await bank.Accounts.MoveMoneyAsync(new MoveMoneyRequest
        {
            CustomerId = bank.CustomerId,
            PotId = pot.PotId,
            Direction = MoveDirection.IntoPot,
            Amount = 1,
            Currency = "GBP",
            IdempotencyKey = holdId.ToString("x32", CultureInfo.InvariantCulture),
        });
        Assert.NotEqual(holdId, UInt128.Parse(movement.TransferId, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));

        await using var scheme = await bank.ConnectAsync();
        var answer = await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 700, stan, bank.Expiry));

        Assert.Equal("00", answer.GetResponseCode());
        var hold = Assert.Single(await bank.CardTransfersAsync());
        Assert.Equal(holdId, ((UInt128)hold.Id.High << 64) | hold.Id.Low);
        Assert.Equal(700, (await bank.CustomerAccountAsync()).DebitsPending);
        await bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Authorise_HoldIdTakenByAnotherTransfer_Declined96EvenWhenRepeated()
    {
        // A transfer from before namespaces (or a bug) already holds the coming hold's id.
        await using var bank = await CardsBank.StartAsync();
        var stan = Messages.NextStan();
        var holdId = CardsBank.HoldId(string.Create(CultureInfo.InvariantCulture, $"{Messages.Acquirer}:{Messages.Rrn(stan)}:{stan:D6}"));
        var planted = await bank.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Card,
            Transfers =
            {
                new Transfer
                {
                    Id = CardsBank.Proto(holdId),
                    DebitAccountId = CardsBank.Proto(CardsBank.FundingAccountId),
                    CreditAccountId = CardsBank.Proto(CardsBank.SettlementAccountId),
                    Amount = 1,
                    Currency = "GBP",
                    Code = 4,
                    Flags = (uint)TransferFlags.Pending,
                },
            },
        });
        Assert.Equal(TransferStatus.Ok, planted.Results.Single().Status);
        await using var scheme = await bank.ConnectAsync();

        var first = await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 700, stan, bank.Expiry));
        var repeat = await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 700, stan, bank.Expiry));

        Assert.Equal("96", first.GetResponseCode());
        // Before, the repeat found the stranger's transfer under the hold id and answered approved.
        Assert.Equal("96", repeat.GetResponseCode());
        Assert.Equal(0, (await bank.CustomerAccountAsync()).DebitsPending);
        await bank.AssertMoneyConservedAsync();
    }
}
