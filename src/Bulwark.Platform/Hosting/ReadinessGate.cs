using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bulwark.Platform.Hosting;

/// <summary>
/// Ready means: the process is listening and its services are announced. Until then
/// <c>/health/ready</c> answers 503 so that nothing routes to a half-started process.
/// </summary>
public sealed class ReadinessGate : IHealthCheck
{
    private volatile string? _notReadyReason = "starting";

    public bool IsReady => _notReadyReason is null;

    public void MarkReady() => _notReadyReason = null;

    public void MarkNotReady(string reason) => _notReadyReason = reason;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var reason = _notReadyReason;
        return Task.FromResult(reason is null ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(reason));
    }
}
