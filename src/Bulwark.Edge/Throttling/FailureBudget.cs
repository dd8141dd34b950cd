namespace Bulwark.Edge.Throttling;

/// <summary>
/// A budget of failures per key (a source address, an account, a customer): a token bucket per
/// key that holds at most <c>failuresMax</c> tokens and refills one every <c>window / failuresMax</c>.
/// Only failures spend it: a request first asks whether the key has any left
/// (<see cref="Exhausted"/>), and spends one only when it fails (<see cref="Spend"/>) — ASP.NET
/// Core's rate-limiting middleware takes a permit for every request before it runs, so it would
/// throttle a load generator that logs in successfully.
/// <para>
/// Computed lazily from the time of the last change, on an injected <see cref="TimeProvider"/>.
/// It replaced System.Threading.RateLimiting's partitioned token buckets, which gave spent
/// budgets back early under load in our tests (a login refused by its budget was let through
/// a second later, about one run in three) and cannot run on a test clock. Memory is bounded:
/// beyond <see cref="KeysMax"/> keys, keys whose budget is full again are dropped first, then the
/// oldest.
/// </para>
/// </summary>
public sealed class FailureBudget : IDisposable
{
    /// <summary>Keys tracked at most (a flood of distinct source addresses must not grow memory without end).</summary>
    public const int KeysMax = 100_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly int _failuresMax;
    private readonly TimeSpan _refill;
    private readonly TimeProvider _time;

    private sealed class Bucket
    {
        public double Tokens { get; set; }

        public long UpdatedTimestamp { get; set; }
    }

    public FailureBudget(int failuresMax, TimeSpan window, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failuresMax, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        _failuresMax = failuresMax;
        _refill = window / failuresMax;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How long until <paramref name="key"/> may fail again, or null while it has budget left.</summary>
    public TimeSpan? Exhausted(string key)
    {
        lock (_lock)
        {
            if (!_buckets.TryGetValue(key, out var bucket))
            {
                return null;
            }
            var tokens = Refilled(bucket);
            if (tokens >= 1)
            {
                return null;
            }
            return TimeSpan.FromTicks((long)Math.Ceiling((1 - tokens) * _refill.Ticks));
        }
    }

    /// <summary>Spends one failure of <paramref name="key"/>'s budget (nothing when none is left).</summary>
    public void Spend(string key)
    {
        lock (_lock)
        {
            if (!_buckets.TryGetValue(key, out var bucket))
            {
                MakeRoom();
                bucket = new Bucket { Tokens = _failuresMax, UpdatedTimestamp = _time.GetTimestamp() };
                _buckets[key] = bucket;
            }
            bucket.Tokens = Math.Max(0, Refilled(bucket) - 1);
            bucket.UpdatedTimestamp = _time.GetTimestamp();
        }
    }

    private double Refilled(Bucket bucket)
    {
        var elapsed = _time.GetElapsedTime(bucket.UpdatedTimestamp);
        return Math.Min(_failuresMax, bucket.Tokens + (elapsed.Ticks / (double)_refill.Ticks));
    }

    private void MakeRoom()
    {
        if (_buckets.Count < KeysMax)
        {
            return;
        }
        foreach (var full in _buckets.Where(pair => Refilled(pair.Value) >= _failuresMax).Select(pair => pair.Key).ToList())
        {
            _buckets.Remove(full);
        }
        if (_buckets.Count >= KeysMax)
        {
            var oldest = _buckets.OrderBy(pair => pair.Value.UpdatedTimestamp).Take(_buckets.Count - KeysMax + 1).Select(pair => pair.Key).ToList();
            foreach (var key in oldest)
            {
                _buckets.Remove(key);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _buckets.Clear();
        }
    }
}
