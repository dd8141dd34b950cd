namespace Bulwark.Support.Chat;

/// <summary>
/// Wakes the long-polls of this process waiting on a conversation when this process posts to it.
/// One task per conversation that has waiters, shared by them and dropped with the last one, so
/// memory follows the waiters, not the conversations; the number of waiters is capped
/// (<see cref="SupportLimits.ChatWaitersMax"/>). Posts through another instance of the service are
/// not seen here: <see cref="ChatLongPoll"/> re-reads the store for those.
/// </summary>
internal sealed class ConversationSignals
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly int _waitersMax;
    private int _waiters;

    public ConversationSignals(int waitersMax = SupportLimits.ChatWaitersMax)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(waitersMax, 1);
        _waitersMax = waitersMax;
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
    /// Null when <see cref="SupportLimits.ChatWaitersMax"/> waiters wait already. Dispose the
    /// subscription when done waiting.
    /// </summary>
    public Subscription? Subscribe(string customerId)
    {
        lock (_lock)
        {
            if (_waiters >= _waitersMax)
            {
                return null;
            }
            if (!_entries.TryGetValue(customerId, out var entry))
            {
                entry = new Entry();
                _entries.Add(customerId, entry);
            }
            entry.Waiters++;
            _waiters++;
            return new Subscription(this, customerId, entry);
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
            entry.Waiters--;
            if (entry.Waiters == 0 && _entries.TryGetValue(customerId, out var current) && ReferenceEquals(current, entry))
            {
                _entries.Remove(customerId);
            }
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
        private readonly Entry _entry;
        private int _disposed;

        internal Subscription(ConversationSignals owner, string customerId, Entry entry)
        {
            _owner = owner;
            _customerId = customerId;
            _entry = entry;
        }

        /// <summary>Completes when the conversation gets a message through this process.</summary>
        public Task Posted => _entry.Posted.Task;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _owner.Release(_customerId, _entry);
            }
        }
    }
}
