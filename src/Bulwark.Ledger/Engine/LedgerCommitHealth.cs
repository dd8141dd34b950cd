using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bulwark.Ledger.Engine;

/// <summary>
/// Whether the ledger can commit, for <c>/health/ready</c> (registered with the platform's "ready"
/// tag). A batch whose store commit fails with an operating error (a full disk, a lost database)
/// turns it false; the next batch that commits turns it true again. While it is false, the writer's
/// periodic hold-expiry sweep (every <see cref="LedgerOptions.ExpirySweepInterval"/>, 1 s) also
/// commits a probe (<see cref="Storage.LedgerCommit.ProbeAtUnixMs"/>), so readiness returns within
/// a sweep of the store recovering, whether or not anyone writes. A ledger that cannot write is
/// alive but useless: callers and load balancers should go elsewhere, and an operator should look.
/// A money invariant broken by a bug does not change it: that is a crash-worthy bug, not a state of
/// the disk.
/// </summary>
public sealed class LedgerCommitHealth : IHealthCheck
{
    private volatile string? _failure;

    public bool CanCommit => _failure is null;

    internal void CommitSucceeded() => _failure = null;

    internal void CommitFailed(Exception error) =>
        _failure = $"The ledger could not commit its last batch ({error.GetType().Name}: {error.Message}); ready again once a batch or the periodic probe commits.";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failure = _failure;
        return Task.FromResult(failure is null ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(failure));
    }
}
