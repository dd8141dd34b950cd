using System.Threading.RateLimiting;

namespace Bulwark.Edge.Throttling;

/// <summary>
/// A budget of failures per key (a source address, an account, a customer), on the token buckets of
/// System.Threading.RateLimiting — the limiters behind ASP.NET Core rate limiting. The ASP.NET Core
/// middleware itself takes a permit for every request before it runs, so it would throttle a load
/// generator that logs in successfully; here only failures spend the budget: a request first asks
/// whether the key has any left (<see cref="Exhausted"/>), and spends one only when it fails
/// (<see cref="Spend"/>). A key's budget refills evenly over the window; idle keys are dropped by the
/// partitioned limiter once full again.
/// </summary>
internal sealed class FailureBudget : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter;
    private readonly TimeSpan _refill;

    public FailureBudget(int failuresMax, TimeSpan window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failuresMax, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        _refill = window / failuresMax;
        var options = new TokenBucketRateLimiterOptions
        {
            TokenLimit = failuresMax,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = _refill,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        _limiter = PartitionedRateLimiter.Create<string, string>(
            key => RateLimitPartition.GetTokenBucketLimiter(key, _ => options), StringComparer.Ordinal);
    }

    /// <summary>How long until <paramref name="key"/> may fail again, or null while it has budget left.</summary>
    public TimeSpan? Exhausted(string key)
    {
        // Asking for no permit tells whether any is left without spending one.
        using var lease = _limiter.AttemptAcquire(key, 0);
        if (lease.IsAcquired)
        {
            return null;
        }
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero ? retryAfter : _refill;
    }

    /// <summary>Spends one failure of <paramref name="key"/>'s budget (nothing when it is already spent).</summary>
    public void Spend(string key)
    {
        using var lease = _limiter.AttemptAcquire(key, 1);
    }

    public void Dispose() => _limiter.Dispose();
}
