using System.Text;
using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Tests.Chain;
using Bulwark.Discovery.Tests.Fixtures;
using Bulwark.Platform.Registry;

namespace Bulwark.Discovery.Tests.Discovery;

[Collection(EtcdCollection.Name)]
public sealed class EtcdServiceRegistryTests
{
    private static string Prefix() => $"/bulwark-test-{Guid.NewGuid():N}/";

    [Fact]
    public async Task Start_EtcdUnreachableAndNoSnapshot_ThrowsNamingWhatWasTried()
    {
        var port = EtcdTestCluster.FreePort();
        var snapshot = Path.Combine(Path.GetTempPath(), $"bulwark-none-{Guid.NewGuid():N}.json");
        var options = TestProcess.Options([new Uri($"http://127.0.0.1:{port}")], Prefix(), "lonely", snapshot) with { StartTimeoutSeconds = 1 };

        var error = await Assert.ThrowsAsync<EtcdUnavailableException>(() => EtcdServiceRegistry.StartAsync(options));

        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.Contains(snapshot, error.Message, StringComparison.Ordinal);
        Assert.Contains("no snapshot file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_EtcdUnreachableAndDamagedSnapshot_ThrowsNamingTheDamage()
    {
        var snapshot = Path.Combine(Path.GetTempPath(), $"bulwark-damaged-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(snapshot, "{truncat");
        try
        {
            var options = TestProcess.Options([new Uri($"http://127.0.0.1:{EtcdTestCluster.FreePort()}")], Prefix(), "lonely", snapshot) with { StartTimeoutSeconds = 1 };

            var error = await Assert.ThrowsAsync<EtcdUnavailableException>(() => EtcdServiceRegistry.StartAsync(options));

            Assert.Contains(snapshot, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(snapshot);
        }
    }

    [Fact]
    public async Task RegisterWatchDeregister_AcrossTwoRegistries_SeenByTheOther()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        var prefix = Prefix();
        await using var writer = await EtcdServiceRegistry.StartAsync(TestProcess.Options(etcd.ClientUrls, prefix, "writer"));
        await using var reader = await EtcdServiceRegistry.StartAsync(TestProcess.Options(etcd.ClientUrls, prefix, "reader"));
        var views = new List<ServiceView>();
        using var watch = reader.Watch("beta", view =>
        {
            lock (views)
            {
                views.Add(view);
            }
        });

        var registration = await writer.RegisterAsync(new ServiceInstance("beta", "b1", "127.0.0.1:5001", "7"), CancellationToken.None);
        Assert.True(await Eventually.TrueAsync(() => reader.GetView("beta").Instances.Count == 1));
        var seen = Assert.Single(reader.GetView("beta").Instances);
        await registration.DisposeAsync();

        // Deregistered with no deployment record: once the reader has seen it (its view no longer
        // authoritative; a fixed 500 ms wait was too short at load 37), fail static keeps the last view (R2/R4).
        Assert.True(await Eventually.TrueAsync(() => !reader.GetView("beta").Authoritative));
        Assert.Single(reader.GetView("beta").Instances);
        Assert.Equal(("127.0.0.1:5001", "7"), (seen.Address, seen.Version));
        Assert.True(reader.IsFresh);
    }

    [Fact]
    public async Task HealthProbes_EjectDeadInstances_NeverMoreThanTheCap()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        var prefix = Prefix();
        await using var live = await TestProcess.StartAsync("beta", TestProcess.Options(etcd.ClientUrls, prefix, "beta-live"));
        await using var router = await TestProcess.StartAsync("alpha", TestProcess.Options(etcd.ClientUrls, prefix, "alpha"));
        using var watch = router.Registry.Watch("beta", _ => { });
        // Three records whose processes are gone (nothing listens on their ports).
        for (var i = 0; i < 3; i++)
        {
            var record = $"{{\"address\":\"127.0.0.1:{EtcdTestCluster.FreePort()}\",\"version\":\"1\"}}";
            await router.Registry.PutRawAsync(router.Registry.InstanceKey("beta", $"dead-{i}"), Encoding.UTF8.GetBytes(record), CancellationToken.None);
        }

        // Four instances, one live: the cap (half) ejects two of the three dead ones, not all three.
        Assert.True(await Eventually.TrueAsync(() => router.Registry.GetView("beta").Instances.Count == 2, 15));
        await Task.Delay(1500);

        var routable = router.Registry.GetView("beta").Instances;
        Assert.Equal(2, routable.Count);
        Assert.Contains(routable, i => i.Address == live.Address);
    }
}
