using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.CardNetwork.Link;

/// <summary>What one issuer link did, for results and status lines.</summary>
/// <param name="Name">The issuer endpoint, <c>host:port</c>.</param>
/// <param name="IsUp">Signed on now (false once removed).</param>
/// <param name="Removed">Taken out of the link list while the scheme ran.</param>
/// <param name="Statistics">The link's counters.</param>
public sealed record SchemeLinkSummary(string Name, bool IsUp, bool Removed, SchemeLinkStatistics Statistics)
{
    /// <summary>Messages written to this link (authorisations, advices, reversals, network messages).</summary>
    public long Sent => Statistics.MessagesSent;

    /// <summary>Answers matched to a request on this link.</summary>
    public long Answered => Statistics.ResponsesMatched;

    /// <summary>Requests on this link that got no answer in time.</summary>
    public long TimedOut => Statistics.TimedOut;

    /// <summary>Times this link came up (signed on).</summary>
    public long Ups => Statistics.SignOns;

    /// <summary>Times this link went down after being up.</summary>
    public long Downs => Statistics.LinkDowns;
}

/// <summary>
/// The scheme's links to every instance of the issuer's card link: one <see cref="SchemeLink"/>
/// per endpoint, each signed on, echoed and reconnected on its own. A card's messages go to one
/// link chosen by rendezvous hashing of the PAN over the links that are up: while the set of
/// links up does not change, a card always goes to the same instance; when a link goes down only
/// its cards move, spread over the rest, and they come back when it is up again.
/// </summary>
public sealed partial class SchemeLinkPool : IStoreAndForwardRoutes, IAsyncDisposable
{
    private static readonly TimeSpan UpPollInterval = TimeSpan.FromMilliseconds(20);

    private readonly Func<EndPoint, SchemeLinkOptions> _optionsFor;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<SchemeLinkSummary> _removed = [];
    private readonly List<Task> _closing = [];
    private Entry[] _entries = [];
    private int _stan = Random.Shared.Next(0, 999_999);
    private int _disposed;

    /// <summary>Creates an empty pool; <see cref="Update"/> sets its links.</summary>
    /// <param name="optionsFor">The options of the link to one endpoint.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="loggerFactory">Loggers for the pool and its links.</param>
    public SchemeLinkPool(Func<EndPoint, SchemeLinkOptions> optionsFor, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(optionsFor);
        _optionsFor = optionsFor;
        _time = timeProvider ?? TimeProvider.System;
        _loggers = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggers.CreateLogger<SchemeLinkPool>();
    }

    /// <summary>Links known now (up or not).</summary>
    public int Count => Volatile.Read(ref _entries).Length;

    /// <summary>Links signed on now.</summary>
    public int UpCount => Volatile.Read(ref _entries).Count(entry => entry.Link.IsSignedOn);

    /// <summary>Requests in flight on all links.</summary>
    public int InFlight => Volatile.Read(ref _entries).Sum(entry => entry.Link.InFlight);

    /// <summary>The names (<c>host:port</c>) of the links known now, in the order given.</summary>
    public IReadOnlyList<string> Names => [.. Volatile.Read(ref _entries).Select(entry => entry.Name)];

    /// <summary>
    /// Makes the links exactly <paramref name="endPoints"/> (duplicates count once): starts a link
    /// for each new endpoint and signs off and closes the links no longer listed (what was in flight
    /// on them fails as <see cref="LinkOutcome.ConnectionLost"/>). Returns the names added and removed.
    /// </summary>
    public (IReadOnlyList<string> Added, IReadOnlyList<string> Removed) Update(IReadOnlyList<EndPoint> endPoints)
    {
        ArgumentNullException.ThrowIfNull(endPoints);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_lock)
        {
            var current = _entries.ToDictionary(entry => entry.Name, StringComparer.Ordinal);
            var next = new List<Entry>();
            var added = new List<string>();
            foreach (var endPoint in endPoints)
            {
                var name = IssuerLinkAddresses.Format(endPoint);
                if (next.Any(entry => entry.Name == name))
                {
                    continue;
                }

                if (current.Remove(name, out var existing))
                {
                    next.Add(existing);
                    continue;
                }

                var link = new SchemeLink(_optionsFor(endPoint), _time, _loggers.CreateLogger<SchemeLink>());
                link.Start();
                next.Add(new Entry(name, link));
                added.Add(name);
                LogAdded(name);
            }

            foreach (var gone in current.Values)
            {
                LogRemoved(gone.Name);
                _closing.Add(CloseAsync(gone));
            }

            Volatile.Write(ref _entries, [.. next]);
            return (added, [.. current.Keys]);
        }
    }

    /// <summary>The link for a card among those up now, or null when none is up.</summary>
    public SchemeLink? Choose(string primaryAccountNumber)
    {
        ArgumentNullException.ThrowIfNull(primaryAccountNumber);
        var entries = Volatile.Read(ref _entries);
        var cardHash = Hash(primaryAccountNumber, FnvOffset);
        SchemeLink? best = null;
        var bestScore = 0UL;
        foreach (var entry in entries)
        {
            if (!entry.Link.IsSignedOn)
            {
                continue;
            }

            // Rendezvous (highest random weight) hashing: each link scores each card; the highest
            // wins. Removing a link moves only the cards it won, each to its own next best.
            var score = Mix(cardHash ^ entry.NameHash);
            if (best is null || score > bestScore)
            {
                best = entry.Link;
                bestScore = score;
            }
        }

        return best;
    }

    /// <summary>The link called <paramref name="name"/> if it is known and up.</summary>
    public SchemeLink? Find(string? name)
    {
        foreach (var entry in Volatile.Read(ref _entries))
        {
            if (string.Equals(entry.Name, name, StringComparison.Ordinal))
            {
                return entry.Link.IsSignedOn ? entry.Link : null;
            }
        }

        return null;
    }

    /// <inheritdoc/>
    public SchemeLink? Route(string? preferredLink, string? primaryAccountNumber) =>
        Find(preferredLink) ?? (primaryAccountNumber is null ? Volatile.Read(ref _entries).FirstOrDefault(entry => entry.Link.IsSignedOn)?.Link : Choose(primaryAccountNumber));

    /// <inheritdoc/>
    public async Task WaitForAnyUpAsync(CancellationToken cancellationToken)
    {
        // Polled: the set of links changes under the waiter, and a 20 ms wait only delays store-and-forward.
        while (UpCount == 0)
        {
            await Task.Delay(UpPollInterval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The next systems trace audit number (field 11) for the scheme's own requests, 1-999999,
    /// wrapping: one sequence for the scheme, whichever link a message goes to.
    /// </summary>
    public int NextSystemsTraceAuditNumber()
    {
        while (true)
        {
            var current = Volatile.Read(ref _stan);
            var next = current >= 999_999 ? 1 : current + 1;
            if (Interlocked.CompareExchange(ref _stan, next, current) == current)
            {
                return next;
            }
        }
    }

    /// <summary>Every link's counters: those known now, in list order, then those removed while running.</summary>
    public IReadOnlyList<SchemeLinkSummary> GetSummaries()
    {
        var entries = Volatile.Read(ref _entries);
        var summaries = entries.Select(entry => new SchemeLinkSummary(entry.Name, entry.Link.IsSignedOn, Removed: false, entry.Link.GetStatistics())).ToList();
        lock (_lock)
        {
            summaries.AddRange(_removed);
        }

        return summaries;
    }

    /// <summary>Signs off and closes every link.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Entry[] entries;
        Task[] closing;
        lock (_lock)
        {
            entries = _entries;
            closing = [.. _closing];
        }

        await Task.WhenAll(entries.Select(entry => entry.Link.DisposeAsync().AsTask()).Concat(closing)).ConfigureAwait(false);
    }

    private async Task CloseAsync(Entry entry)
    {
        await entry.Link.DisposeAsync().ConfigureAwait(false);
        lock (_lock)
        {
            _removed.Add(new SchemeLinkSummary(entry.Name, IsUp: false, Removed: true, entry.Link.GetStatistics()));
        }
    }

    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    /// <summary>FNV-1a over the characters: the same in every process and run, unlike string.GetHashCode.</summary>
    internal static ulong Hash(string text, ulong seed)
    {
        var hash = seed;
        foreach (var character in text)
        {
            hash = (hash ^ character) * FnvPrime;
        }

        return hash;
    }

    /// <summary>The SplitMix64 finaliser: spreads FNV's weak low bits over the whole word.</summary>
    private static ulong Mix(ulong value)
    {
        value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9UL;
        value = (value ^ (value >> 27)) * 0x94D049BB133111EBUL;
        return value ^ (value >> 31);
    }

    [LoggerMessage(EventId = 5130, Level = LogLevel.Information, Message = "Card link to {EndPoint} added")]
    private partial void LogAdded(string endPoint);

    [LoggerMessage(EventId = 5131, Level = LogLevel.Information, Message = "Card link to {EndPoint} removed from the link list; signing off")]
    private partial void LogRemoved(string endPoint);

    private sealed class Entry(string name, SchemeLink link)
    {
        public string Name { get; } = name;

        public ulong NameHash { get; } = Mix(Hash(name, FnvOffset));

        public SchemeLink Link { get; } = link;
    }
}
