using Bulwark.Discovery.Etcd.Discovery;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace Bulwark.Discovery.Etcd.Deployment;

/// <summary>One running instance of a service, as the deployment sees it.</summary>
/// <param name="Id">A name unique in the cluster (for logs and the state file).</param>
/// <param name="Version">The version label the instance was started with.</param>
/// <param name="Address">Its internal gRPC endpoint, host:port, as it registers in etcd.</param>
/// <param name="Registers">
/// False for a process that calls other services but is not called through discovery (the edge):
/// it is healthy when the process as a whole answers SERVING.
/// </param>
/// <param name="RegisteredAs">The name the instance registers under when it is not its service's (an instance of one cell, <c>ledger-a</c>); null: the service's.</param>
public sealed record DeployedInstance(string Id, string Version, string Address, bool Registers = true, string? RegisteredAs = null);

/// <summary>
/// Where instances run: processes on this machine (the local cluster), hosts in a test, pods later.
/// The deployment decides what to start and stop and when an instance counts as healthy; the
/// target only does it.
/// </summary>
public interface IDeploymentTarget
{
    /// <summary>The instances of <paramref name="service"/> running now, oldest first.</summary>
    IReadOnlyList<DeployedInstance> Instances(string service);

    /// <summary>Starts one instance of <paramref name="version"/> and returns at once (not yet healthy).</summary>
    Task<DeployedInstance> StartAsync(string service, string version, CancellationToken cancellationToken);

    /// <summary>True when the instance has ended (crashed or exited): no point waiting for it.</summary>
    bool HasExited(DeployedInstance instance);

    /// <summary>Stops the instance the clean way (deregister, drain, exit), forcing it after a bound.</summary>
    Task StopAsync(DeployedInstance instance, CancellationToken cancellationToken);
}

/// <summary>How a deployment replaces instances.</summary>
public enum RolloutStrategy
{
    /// <summary>
    /// Start a new instance, wait until it is healthy, then stop one old one: capacity never
    /// drops. For stateless services.
    /// </summary>
    Surge,

    /// <summary>
    /// Stop the old instance, then start the new one on the same data: for a service that owns
    /// an embedded store (SQLite) that two processes must not write at once. Calls wait for the
    /// gap (a restart) instead of meeting two writers.
    /// </summary>
    Recreate,
}

/// <summary>What happened to a deployment.</summary>
public sealed record DeploymentOutcome(bool Succeeded, string Service, string Version, string PreviousVersion, int Replaced, string Message);

/// <summary>Limits of a rolling deployment, each with its unit last.</summary>
public sealed record RollingDeploymentOptions
{
    /// <summary>How long a new instance has to register and answer its health check as SERVING.</summary>
    public double HealthyWithinSeconds { get; init; } = 30;

    /// <summary>How often the health gate looks.</summary>
    public double HealthPollIntervalSeconds { get; init; } = 0.2;

    /// <summary>
    /// How long a new instance must stay healthy before the next old one is stopped, so that
    /// callers' watches have seen it (discovery propagation is milliseconds; this is a margin).
    /// </summary>
    public double SettleSeconds { get; init; } = 1;
}

/// <summary>
/// A rolling deployment (R6): one instance at a time, each new instance health-gated (registered
/// in etcd with its address and answering grpc.health.v1 SERVING within a bound), and rolled back
/// by itself when a new instance fails: the failed instance is stopped, instances already
/// replaced get the previous version again, and the deployment record returns to the previous
/// version. Healthy instances of the previous version are never stopped before their
/// replacement is healthy (with <see cref="RolloutStrategy.Surge"/>).
/// </summary>
public sealed partial class RollingDeployment(
    EtcdServiceRegistry registry,
    IDeploymentTarget target,
    RollingDeploymentOptions options,
    ILogger logger)
{
    public async Task<DeploymentOutcome> RunAsync(string service, string version, RolloutStrategy strategy, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        var old = target.Instances(service).Where(i => i.Version != version).ToList();
        var previous = old.Count > 0 ? old[^1].Version : version;
        var replicas = target.Instances(service).Count;
        if (old.Count == 0)
        {
            return new DeploymentOutcome(true, service, version, previous, 0, $"{service}: every instance already runs {version}.");
        }
        await registry.SetDeploymentAsync(service, new DeploymentRecord(replicas, version), cancellationToken).ConfigureAwait(false);
        var replaced = new List<(DeployedInstance Old, DeployedInstance New)>();
        foreach (var instance in old)
        {
            var (fresh, failure) = await ReplaceAsync(service, instance, version, strategy, cancellationToken).ConfigureAwait(false);
            if (fresh is null)
            {
                LogRollingBack(service, version, previous, failure);
                await RollBackAsync(service, previous, replaced, strategy, cancellationToken).ConfigureAwait(false);
                await registry.SetDeploymentAsync(service, new DeploymentRecord(replicas, previous), cancellationToken).ConfigureAwait(false);
                return new DeploymentOutcome(false, service, version, previous, replaced.Count,
                    $"{service} {version}: {failure}; rolled back to {previous} ({replaced.Count} replaced instance(s) restored).");
            }
            replaced.Add((instance, fresh));
        }
        return new DeploymentOutcome(true, service, version, previous, replaced.Count, $"{service}: {replaced.Count} instance(s) now run {version} (was {previous}).");
    }

    /// <summary>Replaces one instance; on failure the old one is running again and the new one is gone.</summary>
    private async Task<(DeployedInstance? Fresh, string Failure)> ReplaceAsync(
        string service, DeployedInstance old, string version, RolloutStrategy strategy, CancellationToken cancellationToken)
    {
        if (strategy == RolloutStrategy.Recreate)
        {
            await target.StopAsync(old, cancellationToken).ConfigureAwait(false);
        }
        var fresh = await target.StartAsync(service, version, cancellationToken).ConfigureAwait(false);
        var failure = await WaitHealthyAsync(service, fresh, cancellationToken).ConfigureAwait(false);
        if (failure is not null)
        {
            await target.StopAsync(fresh, cancellationToken).ConfigureAwait(false);
            if (strategy == RolloutStrategy.Recreate)
            {
                var restored = await target.StartAsync(service, old.Version, cancellationToken).ConfigureAwait(false);
                await WaitHealthyAsync(service, restored, cancellationToken).ConfigureAwait(false);
            }
            return (null, failure);
        }
        LogReplaced(service, old.Id, old.Version, fresh.Id, fresh.Version);
        if (strategy == RolloutStrategy.Surge)
        {
            await target.StopAsync(old, cancellationToken).ConfigureAwait(false);
        }
        return (fresh, "");
    }

    private async Task RollBackAsync(string service, string previous, List<(DeployedInstance Old, DeployedInstance New)> replaced, RolloutStrategy strategy, CancellationToken cancellationToken)
    {
        for (var i = replaced.Count - 1; i >= 0; i--)
        {
            var current = replaced[i].New;
            if (strategy == RolloutStrategy.Recreate)
            {
                await target.StopAsync(current, cancellationToken).ConfigureAwait(false);
            }
            var restored = await target.StartAsync(service, previous, cancellationToken).ConfigureAwait(false);
            var failure = await WaitHealthyAsync(service, restored, cancellationToken).ConfigureAwait(false);
            if (failure is not null)
            {
                // The previous version no longer starts either: keep what runs rather than
                // stopping a healthy instance for a broken one.
                LogRollbackInstanceFailed(service, previous, failure);
                await target.StopAsync(restored, cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (strategy == RolloutStrategy.Surge)
            {
                await target.StopAsync(current, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The health gate: the instance is registered in etcd at its address and answers
    /// grpc.health.v1 SERVING for its service, within the bound. Returns null when healthy, else why not.
    /// </summary>
    public async Task<string?> WaitHealthyAsync(string service, DeployedInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        using var channel = GrpcChannel.ForAddress($"http://{instance.Address}", new GrpcChannelOptions { Credentials = ChannelCredentials.Insecure });
        var health = new Health.HealthClient(channel);
        var deadline = DateTime.UtcNow.AddSeconds(options.HealthyWithinSeconds);
        var interval = TimeSpan.FromSeconds(options.HealthPollIntervalSeconds);
        var lastProblem = "not registered";
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (target.HasExited(instance))
            {
                return $"instance {instance.Id} exited before it became healthy";
            }
            var registeredAs = instance.RegisteredAs ?? service;
            var registered = !instance.Registers
                || registry.GetView(registeredAs).Instances.Any(i => i.Address == instance.Address && i.Version == instance.Version);
            // grpc.health.v1 "" is the whole process: SERVING once it has announced everything it hosts.
            var serving = registered && await IsServingAsync(health, instance.Registers ? registeredAs : "", cancellationToken).ConfigureAwait(false);
            if (serving)
            {
                await Task.Delay(TimeSpan.FromSeconds(options.SettleSeconds), cancellationToken).ConfigureAwait(false);
                return null;
            }
            lastProblem = !registered ? "not registered in etcd" : "not SERVING";
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }
        return $"instance {instance.Id} not healthy within {options.HealthyWithinSeconds:0.#} s ({lastProblem})";
    }

    private static async Task<bool> IsServingAsync(Health.HealthClient health, string service, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await health.CheckAsync(new HealthCheckRequest { Service = service }, deadline: DateTime.UtcNow.AddSeconds(1), cancellationToken: cancellationToken).ConfigureAwait(false);
            return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving;
        }
        catch (RpcException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 4201, Level = LogLevel.Information, Message = "{Service}: {OldId} ({OldVersion}) replaced by healthy {NewId} ({NewVersion})")]
    private partial void LogReplaced(string service, string oldId, string oldVersion, string newId, string newVersion);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning, Message = "{Service} {Version}: {Failure}; rolling back to {Previous}")]
    private partial void LogRollingBack(string service, string version, string previous, string failure);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Error, Message = "{Service}: an instance of the previous version {Previous} did not become healthy during rollback either ({Failure}); the instance it was to replace keeps running")]
    private partial void LogRollbackInstanceFailed(string service, string previous, string failure);
}
