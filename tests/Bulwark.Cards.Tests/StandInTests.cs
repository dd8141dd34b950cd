using Bulwark.Cards.Authorisation;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Cards.Tests;

/// <summary>The bank's own stand-in: a slow ledger gets a journalled decision, posted later exactly once.</summary>
public sealed class StandInTests
{
    [Fact]
    public async Task SlowLedger_StandInRefusesBeyondCachedAvailableBalance_WithinItApproved()
    {
        // Far above the balance: only the cached balance can refuse.
        await using var bank = await CardsBank.StartAsync(CardsBank.SlowLedgerOptions(1_000_000));
        await using (var scheme = await bank.ConnectAsync())
        {
            // A normal approval: the processor learns the account's balance (10,000 - 1,000 held).
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 1_000, Messages.NextStan(), bank.Expiry))).GetResponseCode());
            bank.Slow.On = true;
            Assert.Equal("51", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 9_500, Messages.NextStan(), bank.Expiry))).GetResponseCode());
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 6_000, Messages.NextStan(), bank.Expiry))).GetResponseCode());
            // The stand-in approval used 6,000 of the 9,000: 3,000 remain.
            Assert.Equal("51", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 3_500, Messages.NextStan(), bank.Expiry))).GetResponseCode());
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 3_000, Messages.NextStan(), bank.Expiry))).GetResponseCode());
        }

        // The ledger returns: both stand-in approvals are placed, once, and fit the balance exactly.
        bank.Slow.On = false;
        await CardsBank.EventuallyAsync(async () => (await bank.CardTransfersAsync()).Count == 3, "the stand-in approvals reach the ledger");
        Assert.Equal(10_000, (await bank.CustomerAccountAsync()).DebitsPending);
        await bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task SlowLedger_ApprovedInStandInWithinLimit_PostedOnceAfterRestart()
    {
        await using var bank = await CardsBank.StartAsync(CardsBank.SlowLedgerOptions(5_000));
        // Warm the card cache with one normal approval, then slow the ledger down.
        await using (var scheme = await bank.ConnectAsync())
        {
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 100, Messages.NextStan(), bank.Expiry))).GetResponseCode());
            bank.Slow.On = true;
            var standIn = await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 3_000, Messages.NextStan(), bank.Expiry));
            Assert.Equal("00", standIn.GetResponseCode());
            var overLimit = await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 3_000, Messages.NextStan(), bank.Expiry));
            Assert.Equal("91", overLimit.GetResponseCode());
        }
        Assert.Single(await bank.CardTransfersAsync());

        // The processor restarts; the ledger is back. The journal is replayed at start.
        bank.Slow.On = false;
        await bank.RestartAsync();
        await CardsBank.EventuallyAsync(async () => (await bank.CardTransfersAsync()).Count == 2, "the stand-in approval reaches the ledger");
        var transfers = await bank.CardTransfersAsync();
        Assert.Equal(2, transfers.Count);
        Assert.All(transfers, transfer => Assert.Equal(TransferState.Pending, transfer.State));
        Assert.Equal(3_100, (await bank.CustomerAccountAsync()).DebitsPending);
        await bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task SlowLedger_StandInDecisions_CountedAndWaitingInTheJournalUntilPosted()
    {
        await using var bank = await CardsBank.StartAsync(CardsBank.SlowLedgerOptions(5_000));
        var status = bank.Services.GetRequiredService<CardsStatus>();
        await using (var scheme = await bank.ConnectAsync())
        {
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 100, Messages.NextStan(), bank.Expiry))).GetResponseCode());
            Assert.Equal(0, status.StandInDecisions);
            bank.Slow.On = true;
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 3_000, Messages.NextStan(), bank.Expiry))).GetResponseCode());
            Assert.Equal("91", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 3_000, Messages.NextStan(), bank.Expiry))).GetResponseCode());
        }

        Assert.Equal(2, status.StandInDecisions);
        Assert.Equal(1, status.StandInApproved);
        Assert.Equal(1, status.DecisionsWaitingForLedger());
        bank.Slow.On = false;
        await CardsBank.EventuallyAsync(() => Task.FromResult(status.DecisionsWaitingForLedger() == 0), "the stand-in approval reaches the ledger");
        await bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task SlowLedger_ConcurrentStandInsOnOneCard_ApprovedOnlyUpToTheCardsLimit()
    {
        // Issue 11: the limit was read, then (after a journal flush) added to; authorisations of
        // one card decided at the same time all read the same exposure and all were approved.
        await using var bank = await CardsBank.StartAsync(CardsBank.SlowLedgerOptions(5_000));
        await using (var warm = await bank.ConnectAsync())
        {
            Assert.Equal("00", (await warm.RoundTripAsync(Messages.Authorisation(bank.Pan, 100, Messages.NextStan(), bank.Expiry))).GetResponseCode());
        }
        bank.Slow.On = true;
        var schemes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => bank.ConnectAsync()));
        try
        {
            var answers = await Task.WhenAll(schemes.Select(scheme =>
                scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 2_000, Messages.NextStan(), bank.Expiry))));

            var codes = answers.Select(answer => answer.GetResponseCode()).ToList();
            Assert.Equal(2, codes.Count(code => code == "00"));
            Assert.Equal(2, codes.Count(code => code == "91"));
        }
        finally
        {
            foreach (var scheme in schemes)
            {
                await scheme.DisposeAsync();
            }
        }
        bank.Slow.On = false;
        await CardsBank.EventuallyAsync(async () => (await bank.CustomerAccountAsync()).DebitsPending == 100 + 4_000, "the two stand-in approvals reach the ledger");
        await bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task SlowLedger_StandInLimitFromConfiguration_AChangeAppliesToTheNextDecision_AMalformedOneKeepsTheLastGood()
    {
        await using var bank = await CardsBank.StartAsync(CardsBank.SlowLedgerOptions(10_000), configuration: true);
        var config = new Bulwark.Config.Protos.Config.ConfigClient(bank.Services.GetRequiredService<Bulwark.Platform.Discovery.IServiceChannelFactory>().GetChannel("config"));
        var limit = bank.Services.GetRequiredService<IStandInLimit>();
        var put = await config.PutAsync(new Bulwark.Config.Protos.PutRequest { Key = ConfigStandInLimit.Key, Value = "1000", Reason = "incident: ledger slow, limit exposure" });
        await CardsBank.EventuallyAsync(() => Task.FromResult(limit.PerCardMinor == 1_000), "the processor to read the lowered limit");
        await using (var warm = await bank.ConnectAsync())
        {
            Assert.Equal("00", (await warm.RoundTripAsync(Messages.Authorisation(bank.Pan, 100, Messages.NextStan(), bank.Expiry))).GetResponseCode());
        }
        bank.Slow.On = true;
        await using var scheme = await bank.ConnectAsync();

        var overLowered = (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 2_000, Messages.NextStan(), bank.Expiry))).GetResponseCode();
        var raised = await config.PutAsync(new Bulwark.Config.Protos.PutRequest { Key = ConfigStandInLimit.Key, Value = "5000", ExpectedVersion = put.Entry.Version, Reason = "incident over" });
        await CardsBank.EventuallyAsync(() => Task.FromResult(limit.PerCardMinor == 5_000), "the processor to read the raised limit");
        var withinRaised = (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 2_000, Messages.NextStan(), bank.Expiry))).GetResponseCode();
        await config.PutAsync(new Bulwark.Config.Protos.PutRequest { Key = ConfigStandInLimit.Key, Value = "5,000.00", ExpectedVersion = raised.Entry.Version, Reason = "a typo" });
        var values = bank.Services.GetRequiredService<ConfigValues>();
        await CardsBank.EventuallyAsync(() => Task.FromResult(values.Get(ConfigStandInLimit.Key) is ConfigValue { Text: "5,000.00" }), "the processor's client to see the typo");

        Assert.Equal("91", overLowered);
        Assert.Equal("00", withinRaised);
        Assert.Equal(5_000, limit.PerCardMinor);
        bank.Slow.On = false;
        await CardsBank.EventuallyAsync(async () => (await bank.CustomerAccountAsync()).DebitsPending == 100 + 2_000, "the stand-in approval reaches the ledger");
        await bank.AssertMoneyConservedAsync();
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData(" 12500 ", 12_500L)]
    [InlineData("100000000", 100_000_000L)]
    public void StandInLimit_Parse_WholeMinorUnitsWithinTheLargestAmount(string text, long expected)
    {
        Assert.Equal(expected, ConfigStandInLimit.Parse(text, 100_000_000));
    }

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("12.50")]
    [InlineData("100000001")]
    [InlineData("1e3")]
    public void StandInLimit_Parse_AnythingElse_RefusedNamingTheKey(string text)
    {
        var error = Assert.Throws<FormatException>(() => ConfigStandInLimit.Parse(text, 100_000_000));
        Assert.StartsWith(ConfigStandInLimit.Key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowLedger_StandInApprovalNoLongerCovered_PlacedAsForcedHold()
    {
        await using var bank = await CardsBank.StartAsync(CardsBank.SlowLedgerOptions(1_000_000));
        await using (var scheme = await bank.ConnectAsync())
        {
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 1_000, Messages.NextStan(), bank.Expiry))).GetResponseCode());
            bank.Slow.On = true;
            // Within the cached 9,000: approved in stand-in, and the merchant will be paid.
            Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 8_000, Messages.NextStan(), bank.Expiry))).GetResponseCode());
        }
        // Meanwhile the customer spends the money another way, committed at once (the card
        // processor's calls wait 3 s on the slow ledger: it must not win the race under load).
        var drain = await bank.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers =
            {
                new Transfer
                {
                    Id = CardsBank.Proto(Uint128.InNamespace(IdNamespace.Bank, new UInt128(0xD0, 1))),
                    DebitAccountId = CardsBank.Proto(UInt128.Parse(bank.LedgerAccountId, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture)),
                    CreditAccountId = CardsBank.Proto(CardsBank.FundingAccountId),
                    Amount = 8_500,
                    Currency = "GBP",
                    Code = 1,
                },
            },
        }, new Grpc.Core.Metadata { { SlowLedger.FastHeader, "1" } }, deadline: DateTime.UtcNow.AddSeconds(20));
        Assert.Equal(TransferStatus.Ok, drain.Results.Single().Status);

        // The ledger returns: the approval is placed although the balance no longer covers it.
        bank.Slow.On = false;
        await CardsBank.EventuallyAsync(async () => (await bank.CardTransfersAsync()).Count == 2, "the stand-in approval reaches the ledger");
        var account = await bank.CustomerAccountAsync();
        Assert.Equal((9_000L, 8_500L, 10_000L), (account.DebitsPending, account.DebitsPosted, account.CreditsPosted));
        var forced = Assert.Single(await bank.CardTransfersAsync(), transfer => transfer.Amount == 8_000);
        Assert.Equal((uint)(TransferFlags.Pending | TransferFlags.Force), forced.Flags);
        await bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task SlowLedger_DeclinedInStandIn_HoldThatCommitsLateIsVoided()
    {
        await using var bank = await CardsBank.StartAsync(CardsBank.SlowLedgerOptions(0));
        var stan = Messages.NextStan();
        await using var scheme = await bank.ConnectAsync();
        bank.Slow.On = true;
        Assert.Equal("91", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 2_000, stan, bank.Expiry))).GetResponseCode());
        bank.Slow.On = false;

        // The hold request that timed out commits after all (as a request still queued in a slow
        // ledger would): the same hold id, derived from the authorisation's name.
        var holdId = CardsBank.HoldId(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Messages.Acquirer}:{Messages.Rrn(stan)}:{stan:D6}"));
        var late = await bank.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Card,
            Transfers =
            {
                new Transfer
                {
                    Id = CardsBank.Proto(holdId),
                    DebitAccountId = CardsBank.Proto(UInt128.Parse(bank.LedgerAccountId, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture)),
                    CreditAccountId = CardsBank.Proto(CardsBank.SettlementAccountId),
                    Amount = 2_000,
                    Currency = "GBP",
                    Code = 4,
                    Flags = (uint)TransferFlags.Pending,
                },
            },
        });
        Assert.Equal(TransferStatus.Ok, late.Results.Single().Status);

        // The customer was told no: the hold must not keep their money.
        await CardsBank.EventuallyAsync(async () =>
            (await bank.Ledger.GetTransfersAsync(new GetTransfersRequest { Ids = { CardsBank.Proto(holdId) } })).Transfers.Single().State == TransferState.Voided,
            "the late hold is voided");
        Assert.Equal(0, (await bank.CustomerAccountAsync()).DebitsPending);
        Assert.Equal("91", (await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 2_000, stan, bank.Expiry))).GetResponseCode());
        await bank.AssertMoneyConservedAsync();
    }
}
