using System.Diagnostics;
using System.Net;
using System.Text;
using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Tests.Chain;
using Bulwark.Discovery.Tests.Fixtures;
using Bulwark.Lab.Faults;
using Bulwark.Platform.Registry;
using Xunit.Abstractions;

namespace Bulwark.Discovery.Tests.Discovery;

/// <summary>
/// R5 at start: every way etcd can fail to answer — hung (SIGSTOP: connections accepted, never
/// answered), refused, partitioned (a proxy that forwards nothing), slow, resetting, serving
/// garbage — ends the same way: the process starts from its snapshot within the documented bound
/// (<see cref="EtcdRegistryOptions.StartFromSnapshotAfterSeconds"/>, 1.5 s), says so, and catches
/// up when etcd answers again. The 2017 outage's last step was routers that could not start.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class StartWithoutEtcdTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>
    /// Generous: the documented bound is 1.5 s plus process work; this machine is shared and
    /// noisy. The measured time is written to the test output (and the closing note), not asserted.
    /// </summary>
    private static readonly TimeSpan StartBoundGenerous = TimeSpan.FromSeconds(6);

    private readonly string _snapshot = Path.Combine(Path.GetTempPath(), $"bulwark-start-{Guid.NewGuid():N}.json");

    public enum Fault
    {
        Hung,
        Refused,
        Partitioned,
        Slow,
        Resetting,
        Garbage,
    }

    public void Dispose() => File.Delete(_snapshot);

    [Theory]
    [InlineData(Fault.Hung)]
    [InlineData(Fault.Refused)]
    [InlineData(Fault.Partitioned)]
    [InlineData(Fault.Slow)]
    [InlineData(Fault.Resetting)]
    [InlineData(Fault.Garbage)]
    public async Task Start_EtcdNotAnswering_StartsFromSnapshotWithinBound_CatchesUpLater(Fault fault)
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        var member = etcd.Members[0].ClientUrl;
        await using var proxy = FaultProxy.Start(new IPEndPoint(IPAddress.Loopback, member.Port));
        var through = new Uri($"http://127.0.0.1:{proxy.EndPoint.Port}");
        var endpoint = fault is Fault.Hung or Fault.Refused ? member : through;
        var prefix = $"/bulwark-test-{Guid.NewGuid():N}/";
        await WriteSnapshotWithBetaAsync(endpoint, prefix);

        await InjectAsync(fault, etcd, proxy);
        var clock = Stopwatch.StartNew();
        await using var restarted = await EtcdServiceRegistry.StartAsync(Options(endpoint, prefix, "restarted"), TestLog.Logger);
        clock.Stop();
        output.WriteLine($"{fault}: started from the snapshot in {clock.Elapsed.TotalMilliseconds:0} ms");

        Assert.True(clock.Elapsed < StartBoundGenerous, $"{fault}: start took {clock.Elapsed}");
        Assert.True(restarted.HasView);
        Assert.True(restarted.StartedFromSnapshot);
        Assert.False(restarted.IsFresh);
        Assert.Equal("127.0.0.1:5101", Assert.Single(restarted.GetView("beta").Instances).Address);

        // Registering while etcd does not answer returns at once; the record is put when it answers.
        clock.Restart();
        var registration = await restarted.RegisterAsync(new ServiceInstance("gamma", "g1", "127.0.0.1:5201", "1"), CancellationToken.None);
        output.WriteLine($"{fault}: register returned in {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(clock.Elapsed < StartBoundGenerous, $"{fault}: register took {clock.Elapsed}");

        await LiftAsync(fault, etcd, proxy);
        Assert.True(await Eventually.TrueAsync(() => restarted.IsFresh, 30), $"{fault}: never caught up");
        var put = false;
        for (var attempt = 0; attempt < 100 && !put; attempt++)
        {
            put = (await etcd.EtcdctlAsync($"get {prefix}services/gamma/g1 --print-value-only")).Contains("127.0.0.1:5201", StringComparison.Ordinal);
            await Task.Delay(put ? 0 : 200);
        }
        Assert.True(put, $"{fault}: the deferred registration never reached etcd");
        await registration.DisposeAsync();
    }

    [Fact]
    public async Task Start_EtcdHungAndNoSnapshot_GivesUpNamingWhatItTried()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        await etcd.PauseAllAsync();
        var options = Options(etcd.Members[0].ClientUrl, "/bulwark-test-none/", "lonely") with { StartTimeoutSeconds = 1 };

        var error = await Assert.ThrowsAsync<EtcdUnavailableException>(() => EtcdServiceRegistry.StartAsync(options));

        Assert.Contains(etcd.Members[0].ClientUrl.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("no snapshot file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_CallerCancelsWhileEtcdHung_ThrowsOperationCanceledNotRpcException()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        var prefix = $"/bulwark-test-{Guid.NewGuid():N}/";
        await WriteSnapshotWithBetaAsync(etcd.Members[0].ClientUrl, prefix);
        await etcd.PauseAllAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            EtcdServiceRegistry.StartAsync(Options(etcd.Members[0].ClientUrl, prefix, "cancelled"), TestLog.Logger, cancellationToken: cancel.Token));
    }

    private async Task WriteSnapshotWithBetaAsync(Uri endpoint, string prefix)
    {
        await using var first = await EtcdServiceRegistry.StartAsync(Options(endpoint, prefix, "first"), TestLog.Logger);
        await first.PutRawAsync(first.InstanceKey("beta", "b1"), Encoding.UTF8.GetBytes("{\"address\":\"127.0.0.1:5101\",\"version\":\"1\"}"), CancellationToken.None);
        Assert.True(await Eventually.TrueAsync(() => first.GetView("beta").Instances.Count == 1));
        // Disposing saves the snapshot, as a process does when it stops.
    }

    private EtcdRegistryOptions Options(Uri endpoint, string prefix, string name) =>
        TestProcess.Options([endpoint], prefix, name, _snapshot) with { CallTimeoutSeconds = 2, StartTimeoutSeconds = 5 };

    private static async Task InjectAsync(Fault fault, EtcdTestCluster etcd, FaultProxy proxy)
    {
        switch (fault)
        {
            case Fault.Hung:
                await etcd.PauseAllAsync();
                break;
            case Fault.Refused:
                etcd.KillAll();
                break;
            case Fault.Partitioned:
                proxy.Mode = FaultMode.Blackhole;
                break;
            case Fault.Slow:
                proxy.Latency = TimeSpan.FromSeconds(5);
                break;
            case Fault.Resetting:
                proxy.Mode = FaultMode.Reset;
                break;
            case Fault.Garbage:
                proxy.Mode = FaultMode.Garbage;
                break;
            default:
                throw new UnreachableException();
        }
    }

    private static async Task LiftAsync(Fault fault, EtcdTestCluster etcd, FaultProxy proxy)
    {
        switch (fault)
        {
            case Fault.Hung:
                await etcd.ResumeAllAsync();
                break;
            case Fault.Refused:
                await etcd.RestartAllAsync();
                break;
            case Fault.Slow:
                proxy.Latency = TimeSpan.Zero;
                proxy.ResetAll();
                break;
            default:
                proxy.Mode = FaultMode.Pass;
                break;
        }
    }
}
