using Bulwark.Iso8583;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Overload;
using Grpc.Core;

namespace Bulwark.Cards.Tests;

/// <summary>
/// Card authorisations are shed last: with the ledger's ordinary share of calls in flight taken by
/// customer traffic, the processor's calls (marked priority) still get through, and the card is
/// approved by the ledger itself, not by stand-in (which is set to decline everything here).
/// </summary>
public sealed class OverloadTests
{
    [Fact]
    public async Task Authorise_CustomerTrafficShed_StillApprovedByTheLedger()
    {
        // 4 calls in flight, 2 of them kept for card traffic: 2 held customer calls fill the rest.
        await using var bank = await CardsBank.StartAsync(CardsBank.SlowLedgerOptions(standInLimitPerCardMinor: 0),
            overload: new OverloadOptions { CallsInFlightMax = 4, PriorityCallsReserved = 2 });
        using var stopHeld = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var held = new List<Task>();
        var holdHeaders = new Metadata { { SlowLedger.HoldHeader, "1" } };
        await CardsBank.EventuallyAsync(async () =>
        {
            // Other services' background calls may take a place for a moment: keep asking until two are held.
            if (held.Count(call => !call.IsCompleted) < 2)
            {
                held.Add(bank.Ledger.GetAccountsAsync(new GetAccountsRequest(), holdHeaders, cancellationToken: stopHeld.Token).ResponseAsync);
            }
            await Task.Delay(20);
            return bank.Slow.Held >= 2;
        }, "two customer calls held by the ledger");

        var customer = await Assert.ThrowsAsync<RpcException>(async () =>
            await bank.Ledger.GetAccountsAsync(new GetAccountsRequest(), deadline: DateTime.UtcNow.AddSeconds(20)));
        await using var scheme = await bank.ConnectAsync();
        var response = await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 1_234, Messages.NextStan(), bank.Expiry));
        bank.Slow.Release();
        await Task.WhenAll(held.Select(call => call.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(StatusCode.Unavailable, customer.StatusCode);
        Assert.Equal("true", customer.Trailers.GetValue(CallConcurrencyLimiter.OverloadedTrailer));
        Assert.Equal("00", response.GetResponseCode());
        Assert.Equal(1_234, (await bank.CustomerAccountAsync()).DebitsPending);
    }
}
