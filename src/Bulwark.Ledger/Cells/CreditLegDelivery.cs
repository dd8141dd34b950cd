using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Cells;

/// <summary>
/// Delivers the credit legs this cell owes other cells (docs/internals/cells.md), from the durable
/// records the debit legs were committed with: read the oldest owed legs, send them to their
/// owners, then settle each in the ledger — delivered, or, when the credit account's cell refused
/// it for good, returned to the debit account. At least once to the peer (a crash between
/// delivering and settling redelivers, answered duplicate), exactly once in effect. A "credit
/// account not found" is believed only once it has held for
/// <see cref="LedgerLimits.CreditLegNotFoundConfirmMilliseconds"/>, asked again every round.
/// </summary>
public sealed partial class CreditLegDelivery(LedgerEngine engine, ILedgerCellPeers peers, ILogger<CreditLegDelivery> logger, TimeProvider? time = null)
    : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>When each owed leg was first answered "credit account not found" (in memory: a restart asks again from the start).</summary>
    private readonly Dictionary<UInt128, long> _notFoundSince = [];

    /// <summary>Asks for a delivery round now (called when a batch owed legs).</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already woken: one round takes everything owed.
            }
        }
    }

    /// <summary>Runs one round: returns how many legs were settled.</summary>
    public async Task<int> DeliverOnceAsync(CancellationToken cancellationToken)
    {
        var owed = await engine.GetOwedCreditLegsAsync(LedgerLimits.CreditLegsPerDeliveryMax, cancellationToken);
        // Only legs of partitions this cell serves are its to deliver (a moved partition's go with it).
        var ownership = engine.Ownership;
        owed = owed.Where(leg => ownership.Serves(leg.Partition)).ToArray();
        if (owed.Count == 0)
        {
            return 0;
        }
        var results = await peers.ApplyCreditLegsAsync(owed.Select(leg => leg.Leg).ToArray(), cancellationToken);
        var settlements = new List<(OwedCreditLeg, OwedLegState)>(owed.Count);
        for (var index = 0; index < owed.Count; index++)
        {
            var result = results[index];
            var leg = owed[index].Leg;
            if (result.Status != TransferStatus.CreditAccountNotFound)
            {
                _notFoundSince.Remove(leg.Id);
            }
            switch (result.Status)
            {
                case TransferStatus.Ok:
                    settlements.Add((owed[index], OwedLegState.Delivered));
                    break;
                case TransferStatus.WrongOwner:
                    // The router could not reach the owner this round: stays owed, tried again.
                    break;
                case TransferStatus.CreditAccountNotFound when !NotFoundHeld(leg):
                    // Not believed yet: stays owed, asked again next round.
                    break;
                default:
                    _notFoundSince.Remove(leg.Id);
                    LogReturned(Hex(leg.Id), result.Status.ToString(), leg.Amount);
                    settlements.Add((owed[index], OwedLegState.Returned));
                    break;
            }
        }
        await engine.SettleCreditLegsAsync(settlements, cancellationToken);
        engine.Metrics.CreditLegsDelivered(settlements.Count(settlement => settlement.Item2 == OwedLegState.Delivered));
        return settlements.Count;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        engine.CreditLegsOwed += Wake;
        var backoff = TimeSpan.Zero;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var settled = await DeliverOnceAsync(stoppingToken);
                backoff = TimeSpan.Zero;
                if (settled >= LedgerLimits.CreditLegsPerDeliveryMax)
                {
                    continue;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception error) when (error is LedgerUnavailableException or InvalidOperationException or IOException)
            {
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                LogDeliveryFailed(error.Message, backoff.TotalMilliseconds);
            }
            var wait = backoff > TimeSpan.Zero ? backoff : TimeSpan.FromMilliseconds(LedgerLimits.CreditLegDeliveryIdleMilliseconds);
            try
            {
                await _wake.WaitAsync(wait, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    /// <summary>Whether the credit cell's "not found" for <paramref name="leg"/> has held for the whole confirmation window; the first one is logged.</summary>
    private bool NotFoundHeld(LedgerTransfer leg)
    {
        var now = _time.GetTimestamp();
        if (!_notFoundSince.TryGetValue(leg.Id, out var since))
        {
            _notFoundSince[leg.Id] = now;
            LogNotFoundDoubted(Hex(leg.Id), LedgerLimits.CreditLegNotFoundConfirmMilliseconds / 1000);
            return false;
        }
        return _time.GetElapsedTime(since, now) >= TimeSpan.FromMilliseconds(LedgerLimits.CreditLegNotFoundConfirmMilliseconds);
    }

    private static string Hex(UInt128 id) => id.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);

    [LoggerMessage(EventId = 1430, Level = LogLevel.Error, Message = "The credit leg of transfer {TransferId} was refused for good by its credit account's cell ({Status}); {Amount} returned to the debit account")]
    private partial void LogReturned(string transferId, string status, long amount);

    [LoggerMessage(EventId = 1432, Level = LogLevel.Warning, Message = "The credit account of transfer {TransferId} was found when the transfer was taken, and its cell now answers \"not found\": asked again for {Seconds} s before the money is returned (a store that should not be answering says this too)")]
    private partial void LogNotFoundDoubted(string transferId, int seconds);

    [LoggerMessage(EventId = 1431, Level = LogLevel.Warning, Message = "Credit legs could not be delivered now ({Reason}); trying again in {DelayMs} ms")]
    private partial void LogDeliveryFailed(string reason, double delayMs);
}
