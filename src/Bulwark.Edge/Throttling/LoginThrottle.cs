using System.Collections.Concurrent;

namespace Bulwark.Edge.Throttling;

/// <summary>Which limit refused a login.</summary>
internal enum LoginLimit
{
    Source,
    Account,
    Backoff,
}

/// <summary>A refused login: which limit refused it and when to try again.</summary>
internal sealed record LoginRefusal(LoginLimit Limit, TimeSpan RetryAfter);

/// <summary>
/// The edge's limits on failed logins: a failure budget per source address and one per account
/// (email), and a growing back-off per account after <see cref="EdgeOptions.LoginBackoffFreeFailures"/>
/// consecutive failures (1, 2, 4 … seconds after the last one, at most <see cref="EdgeOptions.LoginBackoffMax"/>).
/// Only failures count: a successful login spends nothing and ends its account's back-off. The
/// limits are per edge instance; with N edges behind a balancer a guesser gets at most N times them.
/// </summary>
internal sealed class LoginThrottle(EdgeOptions options, TimeProvider time) : IDisposable
{
    private readonly FailureBudget _bySource = new(options.LoginFailuresPerSourceMax, options.LoginFailureWindow, time);
    private readonly FailureBudget _byAccount = new(options.LoginFailuresPerAccountMax, options.LoginFailureWindow, time);
    private readonly ConcurrentDictionary<string, Backoff> _backoffs = new(StringComparer.Ordinal);

    /// <summary>Why a login from <paramref name="source"/> for <paramref name="account"/> may not be tried now, or null when it may.</summary>
    public LoginRefusal? Check(string source, string account)
    {
        if (_bySource.Exhausted(source) is { } sourceWait)
        {
            return new LoginRefusal(LoginLimit.Source, sourceWait);
        }
        if (_byAccount.Exhausted(account) is { } accountWait)
        {
            return new LoginRefusal(LoginLimit.Account, accountWait);
        }
        if (_backoffs.TryGetValue(account, out var backoff) && backoff.Until(options) - time.GetUtcNow() is var wait && wait > TimeSpan.Zero)
        {
            return new LoginRefusal(LoginLimit.Backoff, wait);
        }
        return null;
    }

    public void RecordFailure(string source, string account)
    {
        _bySource.Spend(source);
        _byAccount.Spend(account);
        var now = time.GetUtcNow();
        if (!_backoffs.ContainsKey(account) && _backoffs.Count >= EdgeLimits.LoginBackoffAccountsMax)
        {
            DropEndedBackoffs(now);
            if (_backoffs.Count >= EdgeLimits.LoginBackoffAccountsMax)
            {
                return;
            }
        }
        _backoffs.AddOrUpdate(account, _ => new Backoff(1, now), (_, before) => new Backoff(before.Failures + 1, now));
    }

    public void RecordSuccess(string account) => _backoffs.TryRemove(account, out _);

    private void DropEndedBackoffs(DateTimeOffset now)
    {
        foreach (var (account, backoff) in _backoffs)
        {
            if (backoff.LastFailure + options.LoginBackoffMax <= now)
            {
                _backoffs.TryRemove(account, out _);
            }
        }
    }

    public void Dispose()
    {
        _bySource.Dispose();
        _byAccount.Dispose();
    }

    private sealed record Backoff(int Failures, DateTimeOffset LastFailure)
    {
        public DateTimeOffset Until(EdgeOptions options)
        {
            var beyondFree = Failures - options.LoginBackoffFreeFailures;
            if (beyondFree <= 0)
            {
                return DateTimeOffset.MinValue;
            }
            // 2^30 seconds is far beyond any maximum; the shift stays in range.
            var seconds = Math.Min(1L << Math.Min(beyondFree - 1, 30), (long)options.LoginBackoffMax.TotalSeconds);
            return LastFailure + TimeSpan.FromSeconds(seconds);
        }
    }
}
