using System.Collections.Concurrent;
using Bulwark.Ledger.Protos;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cards.Authorisation;

/// <summary>
/// What stand-in knows about an account's money when the ledger does not answer: the available
/// balance last read from the ledger, kept current between reads by the card decisions this
/// processor makes (a hold or a stand-in approval lowers it, a reversal raises it), and re-read
/// in the background at most every <see cref="CardsOptions.StandInBalanceRefreshInterval"/>. A
/// balance older than <see cref="CardsOptions.StandInBalanceAgeMax"/> is not trusted. Spending
/// that does not go through cards (payments, pot moves) shows only at the next read: that is the
/// risk stand-in accepts, bounded by the per-card limit (docs/concepts/cards.md).
/// </summary>
internal sealed class AvailableBalances(CardsOptions options, LedgerClient ledger, TimeProvider time)
{
    /// <summary>Accounts remembered at most; beyond this new accounts are not cached (stand-in uses the card limit alone).</summary>
    public const int AccountsMax = 1_000_000;

    private readonly ConcurrentDictionary<UInt128, Entry> _entries = new();
    private readonly ConcurrentDictionary<UInt128, long> _standInPending = new();
    private readonly ConcurrentDictionary<UInt128, byte> _refreshing = new();

    /// <summary>The available balance stand-in may rely on, or null when it is unknown, unlimited or too old.</summary>
    public long? Available(UInt128 account)
    {
        if (!_entries.TryGetValue(account, out var entry))
        {
            return null;
        }
        lock (entry)
        {
            var fresh = time.GetElapsedTime(entry.ReadAt) <= options.StandInBalanceAgeMax;
            return fresh && entry.Limited ? entry.Available : null;
        }
    }

    /// <summary>Money left the available balance (a hold placed, a stand-in approval) or came back (a release).</summary>
    public void Change(UInt128 account, long delta)
    {
        if (_entries.TryGetValue(account, out var entry))
        {
            lock (entry)
            {
                entry.Available += delta;
            }
        }
    }

    /// <summary>A stand-in approval not yet in the ledger (positive) or no longer waiting (negative): a ledger read does not include it.</summary>
    public void StandInPending(UInt128 account, long delta) =>
        _standInPending.AddOrUpdate(account, Math.Max(0, delta), (_, value) => Math.Max(0, value + delta));

    /// <summary>
    /// After a hold was placed for <paramref name="account"/>: the first time the account is seen
    /// its balance is read now (so stand-in knows it from the first authorisation on); later, it
    /// is re-read in the background when older than the refresh interval. Never throws.
    /// </summary>
    public async Task AfterHoldAsync(UInt128 account, long amount, CancellationToken budget)
    {
        if (_entries.TryGetValue(account, out var entry))
        {
            bool stale;
            lock (entry)
            {
                entry.Available -= amount;
                stale = time.GetElapsedTime(entry.ReadAt) > options.StandInBalanceRefreshInterval;
            }
            if (stale && _refreshing.TryAdd(account, 0))
            {
                _ = Task.Run(() => RefreshAsync(account, CancellationToken.None), CancellationToken.None);
            }
            return;
        }
        if (_entries.Count < AccountsMax && _refreshing.TryAdd(account, 0))
        {
            await RefreshAsync(account, budget);
        }
    }

    private async Task RefreshAsync(UInt128 account, CancellationToken cancellationToken)
    {
        try
        {
            var readAt = time.GetTimestamp();
            var response = await ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { CardProcessor.ToProto(account) } },
                deadline: DateTime.UtcNow + options.DeadlineBudget, cancellationToken: cancellationToken);
            if (response.Accounts.Count != 1)
            {
                return;
            }
            var read = response.Accounts[0];
            var limited = (read.Flags & (uint)AccountFlags.DebitsMustNotExceedCredits) != 0;
            var available = read.CreditsPosted - read.DebitsPosted - read.DebitsPending + read.OverdraftLimit - _standInPending.GetValueOrDefault(account);
            var entry = _entries.GetOrAdd(account, _ => new Entry());
            lock (entry)
            {
                entry.Available = available;
                entry.Limited = limited;
                entry.ReadAt = readAt;
            }
        }
        catch (Exception error) when (error is Grpc.Core.RpcException or OperationCanceledException)
        {
            // The ledger is slow or away: keep the last balance (that is what it is for).
        }
        finally
        {
            _refreshing.TryRemove(account, out _);
        }
    }

    private sealed class Entry
    {
#pragma warning disable SA1401, CA1051 // Fields, guarded by locking the entry.
        public long Available;
        public bool Limited;
        public long ReadAt;
#pragma warning restore SA1401, CA1051
    }
}
