using System.Threading.Channels;
using Bulwark.Iso8583;

namespace Bulwark.CardNetwork.Link;

/// <summary>What a store-and-forward message is.</summary>
public enum StoreAndForwardKind
{
    /// <summary>0120: what the scheme decided in stand-in.</summary>
    Advice,

    /// <summary>0400: undo an authorisation (merchant cancellation, or the scheme's own timeout).</summary>
    Reversal,
}

/// <summary>Delivery counts of one kind of store-and-forward message.</summary>
/// <param name="Queued">Accepted for delivery.</param>
/// <param name="Attempts">Times sent on the wire (first sends and repeats).</param>
/// <param name="Acknowledged">Answered by the issuer (any response code: the issuer has it).</param>
/// <param name="Abandoned">Given up after the attempt limit, or still queued when the simulator stopped.</param>
/// <param name="Dropped">Refused because the queue was full.</param>
public readonly record struct StoreAndForwardCounts(long Queued, long Attempts, long Acknowledged, long Abandoned, long Dropped)
{
    /// <summary>Queued and not yet acknowledged, abandoned or dropped.</summary>
    public long Outstanding => Queued - Acknowledged - Abandoned;
}

/// <summary>
/// Messages the issuer must receive even though nobody waits for them — advices (0120) and
/// reversals (0400) — sent when the link is signed on and repeated until answered, surviving
/// reconnects, with a bounded number of attempts. A repeat is the same message: same STAN and
/// RRN, so the issuer can tell it from a new one.
/// </summary>
public sealed class StoreAndForwardQueue
{
    private readonly SchemeLink _link;
    private readonly TimeProvider _time;
    private readonly int _attemptsMax;
    private readonly TimeSpan _retryDelay;
    private readonly int _queueMax;
    private readonly SemaphoreSlim _window;
    private readonly Channel<Item> _ready = Channel.CreateUnbounded<Item>();
    private readonly long[] _queued = new long[2];
    private readonly long[] _attempts = new long[2];
    private readonly long[] _acknowledged = new long[2];
    private readonly long[] _abandoned = new long[2];
    private readonly long[] _dropped = new long[2];
    private long _outstanding;

    /// <summary>Creates a queue that sends on <paramref name="link"/>; <see cref="RunAsync"/> delivers.</summary>
    public StoreAndForwardQueue(SchemeLink link, int attemptsMax, TimeSpan retryDelay, int window, int queueMax, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(link);
        ArgumentOutOfRangeException.ThrowIfLessThan(attemptsMax, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(attemptsMax, 1_000);
        ArgumentOutOfRangeException.ThrowIfLessThan(retryDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueMax, 1);
        _link = link;
        _time = timeProvider ?? TimeProvider.System;
        _attemptsMax = attemptsMax;
        _retryDelay = retryDelay;
        _queueMax = queueMax;
        _window = new SemaphoreSlim(window, window);
    }

    /// <summary>Messages queued and not yet acknowledged or abandoned.</summary>
    public long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>The counts of one kind.</summary>
    public StoreAndForwardCounts GetCounts(StoreAndForwardKind kind)
    {
        var index = (int)kind;
        return new(
            Interlocked.Read(ref _queued[index]),
            Interlocked.Read(ref _attempts[index]),
            Interlocked.Read(ref _acknowledged[index]),
            Interlocked.Read(ref _abandoned[index]),
            Interlocked.Read(ref _dropped[index]));
    }

    /// <summary>
    /// Queues a message for delivery. The queue owns <paramref name="message"/> from now on: it must
    /// have field 11 and field 37, and the caller must not touch it again.
    /// </summary>
    /// <returns>False when the queue is full (counted as dropped).</returns>
    public bool Enqueue(StoreAndForwardKind kind, Iso8583MessageBuilder message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (Interlocked.Increment(ref _outstanding) > _queueMax)
        {
            Interlocked.Decrement(ref _outstanding);
            Interlocked.Increment(ref _dropped[(int)kind]);
            return false;
        }

        Interlocked.Increment(ref _queued[(int)kind]);
        if (!_ready.Writer.TryWrite(new Item(kind, message)))
        {
            Abandon(kind);
        }

        return true;
    }

    /// <summary>Delivers until cancelled; what is still queued then counts as abandoned.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var inFlight = new List<Task>();
        try
        {
            while (await _ready.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (_ready.Reader.TryRead(out var item))
                {
                    try
                    {
                        await _window.WaitAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        Abandon(item.Kind);
                        throw;
                    }

                    try
                    {
                        await _link.WaitForSignOnAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        _window.Release();
                        Abandon(item.Kind);
                        throw;
                    }

                    inFlight.RemoveAll(task => task.IsCompleted);
                    inFlight.Add(DeliverAsync(item, cancellationToken));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }

        await Task.WhenAll(inFlight).ConfigureAwait(false);
        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var left))
        {
            Abandon(left.Kind);
        }
    }

    /// <summary>Waits until nothing is outstanding or <paramref name="timeout"/> passes; returns whether it drained.</summary>
    public async Task<bool> DrainAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        while (Outstanding > 0)
        {
            if (_time.GetTimestamp() >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), _time, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    private async Task DeliverAsync(Item item, CancellationToken cancellationToken)
    {
        var retry = true;
        try
        {
            var response = await _link.SendAsync(item.Message).ConfigureAwait(false);
            if (response.WasSent)
            {
                item.Attempts++;
                Interlocked.Increment(ref _attempts[(int)item.Kind]);
            }

            if (response.Outcome == LinkOutcome.Answered)
            {
                Interlocked.Increment(ref _acknowledged[(int)item.Kind]);
                Interlocked.Decrement(ref _outstanding);
                retry = false;
            }
            else if (item.Attempts >= _attemptsMax)
            {
                Abandon(item.Kind);
                retry = false;
            }
        }
        finally
        {
            _window.Release();
        }

        if (retry)
        {
            // Not sent (link down, overloaded) does not use up an attempt, but still waits: the
            // queue never spins while the issuer is away.
            try
            {
                await Task.Delay(_retryDelay, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Abandon(item.Kind);
                return;
            }

            if (!_ready.Writer.TryWrite(item))
            {
                Abandon(item.Kind);
            }
        }
    }

    private void Abandon(StoreAndForwardKind kind)
    {
        Interlocked.Increment(ref _abandoned[(int)kind]);
        Interlocked.Decrement(ref _outstanding);
    }

    private sealed class Item(StoreAndForwardKind kind, Iso8583MessageBuilder message)
    {
        public StoreAndForwardKind Kind { get; } = kind;

        public Iso8583MessageBuilder Message { get; } = message;

        public int Attempts { get; set; }
    }
}
