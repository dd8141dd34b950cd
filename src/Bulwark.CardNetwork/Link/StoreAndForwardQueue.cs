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

/// <summary>Where store-and-forward messages go: one link, or the link a card is routed to among several.</summary>
internal interface IStoreAndForwardRoutes
{
    /// <summary>Completes when at least one link is signed on.</summary>
    Task WaitForAnyUpAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The link to send on now: <paramref name="preferredLink"/> (the one that saw the authorisation)
    /// if it is up, else the card's link among those up; null when none is up.
    /// </summary>
    SchemeLink? Route(string? preferredLink, string? primaryAccountNumber);
}

/// <summary>
/// Messages the issuer must receive even though nobody waits for them — advices (0120) and
/// reversals (0400) — sent when the link is signed on and repeated until answered, surviving
/// reconnects, with a bounded number of attempts. A repeat is the same message: same STAN and
/// RRN, so the issuer can tell it from a new one.
/// </summary>
public sealed class StoreAndForwardQueue
{
    private readonly IStoreAndForwardRoutes _routes;
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
        : this(new OneLink(link ?? throw new ArgumentNullException(nameof(link))), attemptsMax, retryDelay, window, queueMax, timeProvider)
    {
    }

    /// <summary>Creates a queue that sends each message on the link <paramref name="routes"/> chooses at each attempt.</summary>
    internal StoreAndForwardQueue(IStoreAndForwardRoutes routes, int attemptsMax, TimeSpan retryDelay, int window, int queueMax, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(routes);
        ArgumentOutOfRangeException.ThrowIfLessThan(attemptsMax, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(attemptsMax, 1_000);
        ArgumentOutOfRangeException.ThrowIfLessThan(retryDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueMax, 1);
        _routes = routes;
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
    public bool Enqueue(StoreAndForwardKind kind, Iso8583MessageBuilder message) => Enqueue(kind, message, preferredLink: null, primaryAccountNumber: null);

    /// <summary>
    /// Queues a message for delivery on <paramref name="preferredLink"/> (the link that saw the
    /// authorisation) while it is up, else on the card's link among those up.
    /// </summary>
    internal bool Enqueue(StoreAndForwardKind kind, Iso8583MessageBuilder message, string? preferredLink, string? primaryAccountNumber)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (Interlocked.Increment(ref _outstanding) > _queueMax)
        {
            Interlocked.Decrement(ref _outstanding);
            Interlocked.Increment(ref _dropped[(int)kind]);
            return false;
        }

        Interlocked.Increment(ref _queued[(int)kind]);
        if (!_ready.Writer.TryWrite(new Item(kind, message, preferredLink, primaryAccountNumber)))
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
                        await _routes.WaitForAnyUpAsync(cancellationToken).ConfigureAwait(false);
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
            var link = _routes.Route(item.PreferredLink, item.PrimaryAccountNumber);
            var response = link is null ? new LinkResponse(LinkOutcome.NotSignedOn, null) : await link.SendAsync(item.Message).ConfigureAwait(false);
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

    private sealed class Item(StoreAndForwardKind kind, Iso8583MessageBuilder message, string? preferredLink, string? primaryAccountNumber)
    {
        public StoreAndForwardKind Kind { get; } = kind;

        public Iso8583MessageBuilder Message { get; } = message;

        public string? PreferredLink { get; } = preferredLink;

        public string? PrimaryAccountNumber { get; } = primaryAccountNumber;

        public int Attempts { get; set; }
    }
}

/// <summary>The routes of a queue on a single link: that link, whenever it is signed on.</summary>
internal sealed class OneLink(SchemeLink link) : IStoreAndForwardRoutes
{
    public Task WaitForAnyUpAsync(CancellationToken cancellationToken) => link.WaitForSignOnAsync(cancellationToken);

    public SchemeLink? Route(string? preferredLink, string? primaryAccountNumber) => link;
}
