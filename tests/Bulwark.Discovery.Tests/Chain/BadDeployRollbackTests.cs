using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Etcd.Deployment;
using Bulwark.Discovery.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Discovery.Tests.Chain;

/// <summary>
/// Link (f) of the 2017 chain: a deploy of a payments-critical service went bad. Here a rolling
/// deploy whose new version hangs at start is rolled back by itself (R6), under continuous calls
/// to the deployed service and to another one, with zero failed calls to healthy services.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class BadDeployRollbackTests
{
    private const string Good = "v2";
    private const string Bad = "v3";

    [Fact]
    public async Task BadDeploy_FailsPartway_RolledBackAutomatically_ZeroFailedCalls()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(3);
        var prefix = $"/bulwark-test-{Guid.NewGuid():N}/";
        await using var target = new TestTarget(etcd.ClientUrls, prefix);
        await target.StartAsync("beta", "v1", CancellationToken.None);
        await target.StartAsync("beta", "v1", CancellationToken.None);
        await using var delta = await TestProcess.StartAsync("delta", TestProcess.Options(etcd.ClientUrls, prefix, "delta"));
        await using var alpha = await TestProcess.StartAsync("alpha", TestProcess.Options(etcd.ClientUrls, prefix, "alpha"));
        await using var deployer = await EtcdServiceRegistry.StartAsync(TestProcess.Options(etcd.ClientUrls, prefix, "deployer"));
        var deployment = new RollingDeployment(deployer, target, new RollingDeploymentOptions { HealthyWithinSeconds = 3, SettleSeconds = 0.5 }, NullLogger.Instance);
        // The caller retries once a call refused at connect (never sent): the rollback stops the bad
        // instance while the balancer may still hold its connection as ready (docs/internals/discovery.md).
        await using var betaLoad = CallLoad.Start(alpha.Client("beta"), "beta", retryNeverSent: true);
        await using var deltaLoad = CallLoad.Start(alpha.Client("delta"), "delta");
        Assert.True(await betaLoad.WaitForSuccessesAsync(20));

        // A good deploy first: every instance replaced, one at a time, while calls go on.
        var good = await deployment.RunAsync("beta", Good, RolloutStrategy.Surge, CancellationToken.None);
        Assert.True(good.Succeeded, good.Message);
        Assert.True(await Eventually.TrueAsync(() => Versions(alpha, "beta").SequenceEqual([Good, Good])), "good version not routed");
        Assert.True(await betaLoad.WaitForSuccessesAsync(20));

        // The bad one: its first instance comes up healthy, the second hangs at start and never
        // registers. The deployment must notice within its bound and put v2 back everywhere.
        target.NeverReady(Bad, afterHealthyStarts: 1);
        var bad = await deployment.RunAsync("beta", Bad, RolloutStrategy.Surge, CancellationToken.None);

        Assert.False(bad.Succeeded);
        Assert.Equal(1, bad.Replaced);
        Assert.Equal(Good, bad.PreviousVersion);
        Assert.Contains("rolled back to v2", bad.Message, StringComparison.Ordinal);
        Assert.Equal([Good, Good], target.Instances("beta").Select(i => i.Version));
        Assert.True(await Eventually.TrueAsync(() => Versions(alpha, "beta").SequenceEqual([Good, Good])), "routing did not return to v2 only");
        Assert.Contains("\"version\":\"v2\"", await etcd.EtcdctlAsync($"get {prefix}deployments/beta --print-value-only"), StringComparison.Ordinal);
        Assert.True(await betaLoad.WaitForSuccessesAsync(20));
        Assert.True(await deltaLoad.WaitForSuccessesAsync(20));
        await betaLoad.DisposeAsync();
        await deltaLoad.DisposeAsync();

        Assert.True(betaLoad.Failures == 0, betaLoad.Errors);
        Assert.True(deltaLoad.Failures == 0, deltaLoad.Errors);
        Assert.Equal(0, target.HungRunning);
    }

    private static IEnumerable<string> Versions(TestProcess caller, string service) =>
        caller.Registry.GetView(service).Instances.Select(i => i.Version).Order(StringComparer.Ordinal);

    /// <summary>
    /// Instances as in-process hosts. A never-ready version after its first healthy starts is a
    /// "process" that holds a port and never answers or registers (a release hung at start).
    /// </summary>
    private sealed class TestTarget(IReadOnlyList<Uri> endpoints, string prefix) : IDeploymentTarget, IAsyncDisposable
    {
        private readonly List<(DeployedInstance Instance, TestProcess? Process, System.Net.Sockets.TcpListener? Hung)> _running = [];
        private string? _neverReadyVersion;
        private int _healthyStartsLeft;
        private int _number;

        public int HungRunning => _running.Count(r => r.Hung is not null);

        public void NeverReady(string version, int afterHealthyStarts)
        {
            _neverReadyVersion = version;
            _healthyStartsLeft = afterHealthyStarts;
        }

        public IReadOnlyList<DeployedInstance> Instances(string service) =>
            [.. _running.Where(r => r.Process?.Service == service || r.Hung is not null).Select(r => r.Instance)];

        public async Task<DeployedInstance> StartAsync(string service, string version, CancellationToken cancellationToken)
        {
            var id = $"{service}-{++_number}";
            if (version == _neverReadyVersion && _healthyStartsLeft-- <= 0)
            {
                var hung = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
                hung.Start();
                var instance = new DeployedInstance(id, version, hung.LocalEndpoint.ToString()!);
                _running.Add((instance, null, hung));
                return instance;
            }
            var process = await TestProcess.StartAsync(service, TestProcess.Options(endpoints, prefix, id), version: version);
            var started = new DeployedInstance(id, version, process.Address);
            _running.Add((started, process, null));
            return started;
        }

        public bool HasExited(DeployedInstance instance) => _running.All(r => r.Instance != instance);

        public async Task StopAsync(DeployedInstance instance, CancellationToken cancellationToken)
        {
            var index = _running.FindIndex(r => r.Instance == instance);
            if (index < 0)
            {
                return;
            }
            var (_, process, hung) = _running[index];
            _running.RemoveAt(index);
            hung?.Dispose();
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var (instance, _, _) in _running.ToList())
            {
                await StopAsync(instance, CancellationToken.None);
            }
        }
    }
}
