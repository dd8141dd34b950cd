using Bulwark.Iso8583;
using Bulwark.Ledger.Protos;

namespace Bulwark.Cards.Tests;

/// <summary>0400/0420 reversals and 0120 advices: each applied once, in any order.</summary>
public sealed class ReversalAndAdviceTests : IAsyncLifetime
{
    private CardsBank _bank = null!;

    public async Task InitializeAsync() => _bank = await CardsBank.StartAsync();

    public async Task DisposeAsync() => await _bank.DisposeAsync();

    [Fact]
    public async Task Reverse_ApprovedAuthorisation_HoldVoidedOnceEvenWhenRepeated()
    {
        await using var scheme = await _bank.ConnectAsync();
        var stan = Messages.NextStan();
        Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 900, stan, _bank.Expiry))).GetResponseCode());

        var reversal = await scheme.RoundTripAsync(Messages.Reversal(_bank.Pan, 900, stan, Messages.NextStan()));
        Assert.Equal(MessageTypeIndicator.ReversalResponse, reversal.Mti);
        Assert.Equal("00", reversal.GetResponseCode());
        var again = await scheme.RoundTripAsync(Messages.Reversal(_bank.Pan, 900, stan, Messages.NextStan()));
        Assert.Equal("00", again.GetResponseCode());

        var hold = Assert.Single(await _bank.CardTransfersAsync());
        Assert.Equal(TransferState.Voided, hold.State);
        var account = await _bank.CustomerAccountAsync();
        Assert.Equal(0, account.DebitsPending);
        Assert.Equal(0, account.DebitsPosted);
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Reverse_BeforeItsAuthorisation_RememberedSoTheAuthorisationIsDeclined()
    {
        await using var scheme = await _bank.ConnectAsync();
        var stan = Messages.NextStan();
        var reversal = await scheme.RoundTripAsync(Messages.Reversal(_bank.Pan, 900, stan, Messages.NextStan()));
        Assert.Equal("00", reversal.GetResponseCode());

        var late = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 900, stan, _bank.Expiry));
        Assert.Equal("05", late.GetResponseCode());
        Assert.Empty(await _bank.CardTransfersAsync());
    }

    [Fact]
    public async Task Reverse_UnknownAuthorisationThatNeverArrives_AnsweredAndNothingMoves()
    {
        await using var scheme = await _bank.ConnectAsync();
        var advice = Messages.Reversal(_bank.Pan, 900, Messages.NextStan(), Messages.NextStan());
        var message = Iso8583Message.Parse(advice.ToArray());
        var reversalAdvice = new Iso8583MessageBuilder(MessageTypeIndicator.ReversalAdvice);
        foreach (var field in message.Fields)
        {
            reversalAdvice.CopyFrom(message, field);
        }
        var response = await scheme.RoundTripAsync(reversalAdvice);
        Assert.Equal(MessageTypeIndicator.ReversalAdviceResponse, response.Mti);
        Assert.Equal("00", response.GetResponseCode());
        Assert.Empty(await _bank.CardTransfersAsync());
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Advice_SchemeStandInApproval_HoldPlacedOnce()
    {
        await using var scheme = await _bank.ConnectAsync();
        var stan = Messages.NextStan();
        var advice = Messages.Advice(_bank.Pan, 1_500, stan, _bank.Expiry, "S12345");
        Assert.Equal("00", (await scheme.RoundTripAsync(advice)).GetResponseCode());
        var repeated = await scheme.RoundTripAsync(Messages.Advice(_bank.Pan, 1_500, stan, _bank.Expiry, "S12345"));
        Assert.Equal(MessageTypeIndicator.AuthorizationAdviceResponse, repeated.Mti);
        Assert.Equal("00", repeated.GetResponseCode());

        await CardsBank.EventuallyAsync(async () => (await _bank.CardTransfersAsync()).Count == 1, "the advised hold reaches the ledger");
        Assert.Equal(1_500, (await _bank.CustomerAccountAsync()).DebitsPending);
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Advice_ForAuthorisationAlreadyDecided_AcknowledgedNotAppliedTwice()
    {
        await using var scheme = await _bank.ConnectAsync();
        var stan = Messages.NextStan();
        Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 800, stan, _bank.Expiry))).GetResponseCode());
        var advice = await scheme.RoundTripAsync(Messages.Advice(_bank.Pan, 800, stan, _bank.Expiry, "S00001"));
        Assert.Equal(MessageTypeIndicator.AuthorizationAdviceResponse, advice.Mti);
        Assert.Equal("00", advice.GetResponseCode());
        Assert.Single(await _bank.CardTransfersAsync());
        Assert.Equal(800, (await _bank.CustomerAccountAsync()).DebitsPending);
        await _bank.AssertMoneyConservedAsync();
    }
}
