using System.Text;
using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Etcd.Discovery;
using Bulwark.Discovery.Tests.Fixtures;
using Bulwark.Lab.Faults;
using Bulwark.Platform.Hosting;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bulwark.Discovery.Tests.Chain;

/// <summary>
/// One test per link of the 2017 chain (INCIDENTS.md), each against real etcd members and under
/// continuous calls between processes, each asserting zero failed calls to healthy services.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class IncidentChainTests
{
    private static string Prefix() => $"/bulwark-test-{Guid.NewGuid():N}/";

    [Fact]
    public async Task GarbageNullAndEmptyRecords_AreSkippedAndCounted_RoutingUnaffected()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(3);
        var prefix = Prefix();
        await using var beta1 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta1"));
        await using var beta2 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta2"));
        await using var alpha = await TestProcess.StartAsync("alpha", TestProcess.Options(etcd.ClientUrls, prefix, "alpha"));
        await using var load = CallLoad.Start(alpha.Client("beta"), "beta");
        Assert.True(await load.WaitForSuccessesAsync(20));

        // The 2017 router crashed on "endpoints": null. Here every kind of bad record sits beside good ones.
        byte[][] bad = [""u8.ToArray(), "null"u8.ToArray(), "{not json"u8.ToArray(), "{\"address\":null}"u8.ToArray(),
            "{\"address\":\"no-port\"}"u8.ToArray(), "[]"u8.ToArray(), [0xff, 0xfe, 0x00]];
        for (var i = 0; i < bad.Length; i++)
        {
            await alpha.Registry.PutRawAsync($"{prefix}services/beta/bad-{i}", bad[i], CancellationToken.None);
        }
        await alpha.Registry.PutRawAsync($"{prefix}deployments/beta", "null"u8.ToArray(), CancellationToken.None);
        await alpha.Registry.PutRawAsync($"{prefix}services/beta", "{}"u8.ToArray(), CancellationToken.None);
        Assert.True(await Eventually.TrueAsync(() => alpha.Registry.RecordsSkipped >= bad.Length + 2));
        Assert.True(await load.WaitForSuccessesAsync(50));

        // A router restarted now (a fresh process) starts and routes: the bad records do not stop it.
        await using var restarted = await TestProcess.StartAsync("alpha", TestProcess.Options(etcd.ClientUrls, prefix, "alpha-restarted"));
        var reply = await restarted.Client("beta").CheckAsync(new HealthCheckRequest { Service = "beta" }, deadline: DateTime.UtcNow.AddSeconds(5));

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
        Assert.Equal(2, restarted.Registry.GetView("beta").Instances.Count);
        Assert.True(restarted.Registry.RecordsSkipped >= bad.Length + 2);
        Assert.True(load.Failures == 0, load.Errors);
    }

    [Fact]
    public async Task ServiceScaledToZero_CallersFailFastNamingIt_OtherServicesUnaffected()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(3);
        var prefix = Prefix();
        // What is tested is the answer to callers of a service scaled to zero, not how fast a start
        // reaches etcd: a start may take longer than the fixture's 2 s on a loaded machine (it did,
        // twice, in full runs beside the cluster tests).
        static EtcdRegistryOptions Patient(EtcdRegistryOptions options) => options with { StartTimeoutSeconds = 10 };
        await using var beta = await TestProcess.StartAsync("beta", Patient(TestProcess.Options(etcd.ClientUrls, prefix, "beta")));
        var gamma = await TestProcess.StartAsync("gamma", Patient(TestProcess.Options(etcd.ClientUrls, prefix, "gamma")));
        await using var alpha = await TestProcess.StartAsync("alpha", Patient(TestProcess.Options(etcd.ClientUrls, prefix, "alpha")));
        await using var betaLoad = CallLoad.Start(alpha.Client("beta"), "beta");
        var gammaClient = alpha.Client("gamma");
        await gammaClient.CheckAsync(new HealthCheckRequest { Service = "gamma" }, deadline: DateTime.UtcNow.AddSeconds(5));

        await alpha.Registry.SetDeploymentAsync("gamma", new DeploymentRecord(0, "1"), CancellationToken.None);
        await gamma.DisposeAsync();
        Assert.True(await Eventually.TrueAsync(() => alpha.Registry.GetView("gamma") is { Instances.Count: 0, Authoritative: true }));
        // The empty view reached the channel while gamma's connection was still open (gamma
        // deregisters before it stops); it takes effect when the balancer sees the connection
        // close and asks the resolver again, a moment after gamma stopped.
        Assert.True(await Eventually.TrueAsync(() => ScaledToZeroAnswered(gammaClient)), "calls never got the scaled-to-0 answer");

        var failures = new List<RpcException>();
        for (var i = 0; i < 20; i++)
        {
            failures.Add(await Assert.ThrowsAsync<RpcException>(async () =>
                await gammaClient.CheckAsync(new HealthCheckRequest { Service = "gamma" }, deadline: DateTime.UtcNow.AddSeconds(30))));
        }
        Assert.True(await betaLoad.WaitForSuccessesAsync(50));

        Assert.All(failures, error =>
        {
            Assert.Equal(StatusCode.Unavailable, error.StatusCode);
            Assert.Contains("'gamma'", error.Status.Detail, StringComparison.Ordinal);
            Assert.Contains("scaled to 0", error.Status.Detail, StringComparison.Ordinal);
        });
        Assert.True(betaLoad.Failures == 0, betaLoad.Errors);
    }

    [Fact]
    public async Task WatchStalledSilently_WhileInstancesReplaced_StallDetectedAndNewInstancesReached()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(3);
        var prefix = Prefix();
        await using var proxy = FaultProxy.Start(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, etcd.Members[0].ClientPort));
        var old1 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta-old1"));
        var old2 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta-old2"));
        await using var delta = await TestProcess.StartAsync("delta", TestProcess.Options(etcd.ClientUrls, prefix, "delta"));
        // The router reaches etcd through the proxy first: its watch is the one that goes silent.
        var routerOptions = TestProcess.Options([new Uri($"http://{proxy.EndPoint}")], prefix, "alpha");
        await using var alpha = await TestProcess.StartAsync("alpha", routerOptions);
        Assert.True(await Eventually.TrueAsync(() => alpha.Registry.Members.Count == 4));
        // The caller waits for a ready instance within its deadline, and retries once a call that
        // was refused at connect (never sent) - see CallLoad.CallAsync and docs/internals/discovery.md.
        await using var betaLoad = CallLoad.Start(alpha.Client("beta"), "beta", waitForReady: true, deadlineSeconds: 20, retryNeverSent: true);
        await using var deltaLoad = CallLoad.Start(alpha.Client("delta"), "delta");
        Assert.True(await betaLoad.WaitForSuccessesAsync(20));

        proxy.Mode = FaultMode.Blackhole;
        await using var new1 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta-new1"));
        await using var new2 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta-new2"));
        await old1.DisposeAsync();
        await old2.DisposeAsync();

        var newAddresses = new[] { new1.Address, new2.Address };
        Assert.True(await Eventually.TrueAsync(() => alpha.Registry.StallsDetected >= 1, 10), "stall not detected");
        Assert.True(await Eventually.TrueAsync(() =>
            alpha.Registry.IsFresh && alpha.Registry.GetView("beta").Instances.Select(i => i.Address).Order().SequenceEqual(newAddresses.Order()), 15),
            "new instances not seen");
        Assert.True(await betaLoad.WaitForSuccessesAsync(50), "new instances not reached");
        Assert.True(await deltaLoad.WaitForSuccessesAsync(20));

        // Stop calling before the new instances stop at the end of the test.
        await betaLoad.DisposeAsync();
        await deltaLoad.DisposeAsync();

        Assert.NotEqual(new Uri($"http://{proxy.EndPoint}"), alpha.Registry.Members[0]);
        Assert.True(proxy.OpenConnections > 0, "the blackhole keeps connections open");
        Assert.True(betaLoad.Failures == 0, betaLoad.Errors);
        Assert.True(deltaLoad.Failures == 0, deltaLoad.Errors);
    }

    [Fact]
    public async Task WatchStalled_ResumeRevisionCompacted_FullResyncSeesChanges()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        var prefix = Prefix();
        await using var proxy = FaultProxy.Start(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, etcd.Members[0].ClientPort));
        await using var writer = await Bulwark.Discovery.Etcd.EtcdServiceRegistry.StartAsync(TestProcess.Options(etcd.ClientUrls, prefix, "writer"));
        await using var router = await Bulwark.Discovery.Etcd.EtcdServiceRegistry.StartAsync(TestProcess.Options([new Uri($"http://{proxy.EndPoint}")], prefix, "router"));
        Assert.True(await Eventually.TrueAsync(() => router.Members.Count == 2));
        await using var first = await writer.RegisterAsync(new Bulwark.Platform.Registry.ServiceInstance("beta", "b1", "127.0.0.1:5001", "1"), CancellationToken.None);
        Assert.True(await Eventually.TrueAsync(() => router.GetView("beta").Instances.Count == 1));

        proxy.Mode = FaultMode.Blackhole;
        await using var second = await writer.RegisterAsync(new Bulwark.Platform.Registry.ServiceInstance("beta", "b2", "127.0.0.1:5002", "1"), CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            await writer.PutRawAsync($"{prefix}other/{i}", "x"u8.ToArray(), CancellationToken.None);
        }
        var status = await etcd.EtcdctlAsync("endpoint status --write-out=json");
        var revision = System.Text.RegularExpressions.Regex.Match(status, "\"revision\":(\\d+)").Groups[1].Value;
        await etcd.EtcdctlAsync($"compact {revision}");

        Assert.True(await Eventually.TrueAsync(() => router.GetView("beta").Instances.Count == 2 && router.IsFresh, 15), "changes made during the stall not seen");
        Assert.True(router.StallsDetected >= 1);
        Assert.True(router.Resyncs >= 2, $"resyncs: {router.Resyncs}");
    }

    [Fact]
    public async Task EtcdUnreachable_EveryProcessRestarted_StartsFromSnapshotAndKeepsRouting()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(3);
        var prefix = Prefix();
        var directory = Directory.CreateTempSubdirectory("bulwark-snapshots-");
        try
        {
            string Snapshot(string name) => Path.Combine(directory.FullName, $"{name}.json");
            var ports = new[] { EtcdTestCluster.FreePort(), EtcdTestCluster.FreePort(), EtcdTestCluster.FreePort() };
            var beta1 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta1", Snapshot("beta1")), ports[0]);
            var beta2 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta2", Snapshot("beta2")), ports[1]);
            var alpha = await TestProcess.StartAsync("alpha", TestProcess.Options(etcd.ClientUrls, prefix, "alpha", Snapshot("alpha")), ports[2]);
            var load = CallLoad.Start(alpha.Client("beta"), "beta");
            Assert.True(await load.WaitForSuccessesAsync(20));
            Assert.True(await Eventually.TrueAsync(() => SnapshotHas(Snapshot("alpha"), "beta", 2)), "snapshot not written");

            etcd.KillAll();
            Assert.True(await Eventually.TrueAsync(() => !alpha.Registry.IsFresh, 10));
            Assert.True(await load.WaitForSuccessesAsync(30), "fail static: routing goes on with etcd gone");
            await load.DisposeAsync();

            // Restart every process while etcd is still down: each starts from its own snapshot.
            await beta1.DisposeAsync();
            beta1 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta1", Snapshot("beta1")), ports[0]);
            await beta2.DisposeAsync();
            beta2 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta2", Snapshot("beta2")), ports[1]);
            await alpha.DisposeAsync();
            alpha = await TestProcess.StartAsync("alpha", TestProcess.Options(etcd.ClientUrls, prefix, "alpha", Snapshot("alpha")), ports[2]);
            Assert.True(alpha.Registry.HasView);
            Assert.False(alpha.Registry.IsFresh);
            var readiness = await alpha.App.Services.GetRequiredService<HealthCheckService>()
                .CheckHealthAsync(check => check.Tags.Contains(BulwarkHost.ReadyTag));
            Assert.Equal(HealthStatus.Healthy, readiness.Status);
            Assert.Equal("last known good", readiness.Entries["discovery-view"].Description);
            load = CallLoad.Start(alpha.Client("beta"), "beta");
            Assert.True(await load.WaitForSuccessesAsync(30), "restarted router routes from its snapshot");

            // etcd comes back: views turn fresh, deferred registrations land, routing never stopped.
            await etcd.RestartAllAsync();
            Assert.True(await Eventually.TrueAsync(() => alpha.Registry.IsFresh, 20), "not fresh after etcd returned");
            Assert.True(await Eventually.TrueAsync(() => alpha.Registry.GetView("beta").Instances.Select(i => i.Address).Distinct().Count() == 2, 20));
            Assert.True(await load.WaitForSuccessesAsync(30));
            await load.DisposeAsync();

            Assert.True(load.Failures == 0, load.Errors);
            await alpha.DisposeAsync();
            await beta1.DisposeAsync();
            await beta2.DisposeAsync();
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>Category=Scenario: scripts/test runs it after the other tests, alone on the machine.</summary>
    [Fact]
    [Trait("Category", "Scenario")]
    public async Task EtcdResized_3To9To3_UnderLoad_WatchKeepsWorking()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(3);
        var prefix = Prefix();
        await using var beta = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta"));
        await using var alpha = await TestProcess.StartAsync("alpha", TestProcess.Options(etcd.ClientUrls, prefix, "alpha"));
        await using var load = CallLoad.Start(alpha.Client("beta"), "beta");
        Assert.True(await load.WaitForSuccessesAsync(20));

        var added = new List<EtcdTestCluster.Member>();
        // 3 -> 9, one member at a time (each start waits for the member to be healthy).
        for (var i = 0; i < 6; i++)
        {
            added.Add(await etcd.AddMemberAsync());
        }
        Assert.True(await Eventually.TrueAsync(() => added.All(m => alpha.Registry.Members.Contains(m.ClientUrl))), "added members not learnt");
        // 9 -> 3: remove the three original members (including the one every client started on)
        // and three of the new ones, so that no client is left on a member it was seeded with.
        for (var i = 0; i < 6; i++)
        {
            await etcd.RemoveMemberAsync(etcd.Members[0]);
        }
        Assert.Equal(3, etcd.Members.Count);
        Assert.True(await load.WaitForSuccessesAsync(30));

        // The 2017 link: after the resize, changes must still reach the router's watch.
        await using var beta2 = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta2"));
        Assert.True(await Eventually.TrueAsync(() => alpha.Registry.GetView("beta").Instances.Any(i => i.Address == beta2.Address), 15),
            "registration after the resize not seen");
        Assert.True(await load.WaitForSuccessesAsync(30));

        Assert.True(load.Failures == 0, load.Errors);
    }

    private static bool ScaledToZeroAnswered(Health.HealthClient client)
    {
        try
        {
            client.Check(new HealthCheckRequest { Service = "gamma" }, deadline: DateTime.UtcNow.AddSeconds(5));
            return false;
        }
        catch (RpcException error)
        {
            return error.Status.Detail.Contains("scaled to 0", StringComparison.Ordinal);
        }
    }

    private static bool SnapshotHas(string path, string service, int instances) =>
        DiscoverySnapshot.TryLoad(path, out var views, out _, out _, out _)
        && views.Any(v => v.Service == service && v.Instances.Count == instances);
}

[CollectionDefinition(Name)]
public sealed class EtcdCollection
{
    public const string Name = "etcd";
}
