namespace Bulwark.Support.Chat;

/// <summary>
/// Wakes the long-polls of this process waiting on a conversation when this process posts to it.
/// One task per conversation that has waiters, shared by them and dropped with the last one, so
/// memory follows the waiters, not the conversations; the number of waiters is capped
/// (<see cref="SupportLimits.ChatWaitersMax"/>), in all and per conversation
/// (<see cref="SupportLimits.ChatWaitersPerConversationMax"/>). Posts through another instance of the service are
/// not seen here: <see cref="ChatLongPoll"/> re-reads the store for those.
/// </summary>
internal sealed class ConversationSignals
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly int _waitersMax;
    private readonly int _perConversationMax;
    private int _waiters;

    public ConversationSignals(int waitersMax = SupportLimits.ChatWaitersMax, int perConversationMax = SupportLimits.ChatWaitersPerConversationMax)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(waitersMax, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(perConversationMax, 1);
        _waitersMax = waitersMax;
        _perConversationMax = perConversationMax;
    }

    /// <summary>Long-polls waiting now.</summary>
    public int Waiters
    {
        get
        {
            lock (_lock)
            {
                return _waiters;
            }
        }
    }

    /// <summary>
    /// Registers a waiter; its task completes at the next <see cref="Notify"/> of the conversation.
    /// Null when the instance's or the conversation's waiters are at their limit. Dispose the
    /// subscription when done waiting.
    /// </summary>
    public Subscription? Subscribe(string customerId)
    {
        lock (_lock)
        {
            if (_waiters >= _waitersMax || (_entries.TryGetValue(customerId, out var current) && current.Waiters >= _perConversationMax))
            {
                return null;
            }
            _waiters++;
            return new Subscription(this, customerId, JoinLocked(customerId));
        }
    }

    /// <summary>The conversation's current entry, created when it has none, with one waiter more.</summary>
    private Entry JoinLocked(string customerId)
    {
        if (!_entries.TryGetValue(customerId, out var entry))
        {
            entry = new Entry();
            _entries.Add(customerId, entry);
        }
        entry.Waiters++;
        return entry;
    }

    /// <summary>
    /// Moves a woken waiter to the conversation's next signal, keeping its place: a long-poll that
    /// goes on waiting after a post is never refused halfway by the limits.
    /// </summary>
    private Entry Renew(string customerId, Entry woken)
    {
        lock (_lock)
        {
            LeaveLocked(customerId, woken);
            return JoinLocked(customerId);
        }
    }

    /// <summary>Wakes every waiter of the conversation; later waiters wait for the next post.</summary>
    public void Notify(string customerId)
    {
        Entry? entry;
        lock (_lock)
        {
            if (!_entries.Remove(customerId, out entry))
            {
                return;
            }
        }
        // Outside the lock: continuations must not run while holding it.
        entry.Posted.TrySetResult();
    }

    private void Release(string customerId, Entry entry)
    {
        lock (_lock)
        {
            _waiters--;
            LeaveLocked(customerId, entry);
        }
    }

    private void LeaveLocked(string customerId, Entry entry)
    {
        entry.Waiters--;
        if (entry.Waiters == 0 && _entries.TryGetValue(customerId, out var current) && ReferenceEquals(current, entry))
        {
            _entries.Remove(customerId);
        }
    }

    internal sealed class Entry
    {
        public TaskCompletionSource Posted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Waiters { get; set; }
    }

    /// <summary>One waiter's hold on a conversation's signal.</summary>
    public sealed class Subscription : IDisposable
    {
        private readonly ConversationSignals _owner;
        private readonly string _customerId;
        private Entry _entry;
        private int _disposed;

        internal Subscription(ConversationSignals owner, string customerId, Entry entry)
        {
            _owner = owner;
            _customerId = customerId;
            _entry = entry;
        }

        /// <summary>Completes when the conversation gets a message through this process.</summary>
        public Task Posted => _entry.Posted.Task;

        /// <summary>After <see cref="Posted"/> completed: waits for the next post instead, in the same place.</summary>
        public void Renew()
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            _entry = _owner.Renew(_customerId, _entry);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _owner.Release(_customerId, _entry);
            }
        }
    }
}
