using System.Net;
using System.Net.Sockets;
using Bulwark.Lab.Cluster;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>
/// The local cluster's supervisor against real processes: an instance that exits, one that hangs
/// (SIGSTOP: alive, silent), one killed while every etcd member is hung, and one that cannot start
/// (its port taken) are each handled as Kubernetes would — restarted on their own ports, with a
/// growing back-off, visible in <c>cluster status</c>.
/// </summary>
[Collection(LocalClusterCollection.Name)]
public sealed partial class ClusterSupervisorTests : IDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), "bulwark-supervisor-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (File.Exists(Path.Combine(_state, "cluster.json")))
        {
            // Hung processes are let go first, so that down stops them cleanly.
            foreach (var pid in AllPids())
            {
                SignalAsync(pid, "CONT").GetAwaiter().GetResult();
            }
            RunAsync("cluster", "down", "--state", _state).GetAwaiter().GetResult();
        }
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    [Fact]
    public async Task Supervisor_InstanceExitsHangsOrDiesWhileEtcdHung_RestartedOnItsOwnPorts()
    {
        var up = await RunAsync("cluster", "up", "--state", _state, "--etcd-members", "1", "--nats-servers", "0", "--replicas", "accounts=0,feed=2,cards=0,edge=0,staff-edge=0,support=0,coherence=0,config=0", "--edge-port", "0");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);

        // Exits: killed, it comes back on the same port with a new PID.
        var (feed, feedPort, feedPid) = Instance("feed", 0);
        await SignalAsync(feedPid, "KILL");
        Assert.True(await Eventually(() => Instance("feed", 0).Pid != feedPid && Serving(feedPort)), "the killed feed was not restarted");
        Assert.Equal(feedPort, Instance("feed", 0).Port);

        // Hangs: alive but silent; killed after its liveness probes fail, then restarted.
        var (hung, hungPort, hungPid) = Instance("feed", 1);
        await SignalAsync(hungPid, "STOP");
        Assert.True(await Eventually(() => Instance("feed", 1).Pid != hungPid && Serving(hungPort), 45), "the hung feed was not restarted");
        Assert.False(IsAlive(hungPid), "the hung process was left behind");

        // Every etcd member hung (the 2017 chain): the ledger killed now restarts from its snapshot and serves.
        using (var state = State(_state))
        {
            await SignalAsync(state.RootElement.GetProperty("members")[0].GetProperty("pid").GetInt32(), "STOP");
        }
        var (_, ledgerPort, ledgerPid) = Instance("ledger", 0);
        await SignalAsync(ledgerPid, "KILL");
        Assert.True(await Eventually(() => Instance("ledger", 0).Pid != ledgerPid && Serving(ledgerPort)), "the ledger was not restarted while etcd was hung");
        using (var state = State(_state))
        {
            await SignalAsync(state.RootElement.GetProperty("members")[0].GetProperty("pid").GetInt32(), "CONT");
        }

        Assert.True(await Eventually(async () => (await RunAsync("cluster", "status", "--state", _state)).ExitCode == 0), "the cluster did not become healthy again");
        var status = await RunAsync("cluster", "status", "--state", _state);
        // At least once each: on a loaded machine a restarted process slow to answer its first
        // probes is (rightly) judged not live and restarted again (a full run once saw feed-3 twice).
        Assert.Matches($@"{feed} +v1 +\d+ +127\.0\.0\.1:{feedPort} +running +[1-9]\d* +yes +SERVING", status.Output);
        Assert.Matches($@"{hung} +v1 +\d+ +127\.0\.0\.1:{hungPort} +running +[1-9]\d* +yes +SERVING", status.Output);
        Assert.Matches(@"last restart .* UTC: not live for \d+ probes", status.Output);
        var restarts = SupervisorRestarts().Match(status.Output);
        Assert.True(restarts.Success && int.Parse(restarts.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 3, status.Output);
    }

    [Fact]
    public async Task Supervisor_InstanceCannotStart_CrashLoopsWithBackoff_ThenRecovers()
    {
        var up = await RunAsync("cluster", "up", "--state", _state, "--etcd-members", "1", "--nats-servers", "0", "--replicas", "ledger=0,accounts=0,feed=1,cards=0,edge=0,staff-edge=0,support=0,coherence=0,config=0", "--edge-port", "0");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        var (feed, port, pid) = Instance("feed", 0);

        // Its port taken by someone else: every restart fails at once ("cannot listen"). The
        // supervisor is paused meanwhile, so that it cannot win the port back first.
        int supervisor;
        using (var state = State(_state))
        {
            supervisor = state.RootElement.GetProperty("supervisorPid").GetInt32();
        }
        await SignalAsync(supervisor, "STOP");
        TcpListener? squatter;
        try
        {
            await SignalAsync(pid, "KILL");
            Assert.True(await Eventually(() => !IsAlive(pid)));
            squatter = null;
            for (var attempt = 0; attempt < 50 && !TryListen(port, out squatter); attempt++)
            {
                await Task.Delay(100);
            }
            Assert.True(squatter is not null, "could not take the feed's port");
        }
        finally
        {
            await SignalAsync(supervisor, "CONT");
        }
        try
        {
            Assert.True(await Eventually(() => Restarts(feed) >= ClusterSupervisor.CrashLoopStreak), "the supervisor did not keep trying");
            var status = await RunAsync("cluster", "status", "--state", _state);
            Assert.Equal(1, status.ExitCode);
            Assert.Matches($@"{feed} +v1 +\d+ +127\.0\.0\.1:{port} +crash-looping", status.Output);
            // Why, without opening the log: the process's last words.
            Assert.Matches(@"last restart .* UTC: exited \(its last log line: bulwark serve: cannot listen: ", status.Output);
            // Back-off: a few restarts, not one every pass (0 s, 1 s, 2 s, 4 s ... between them).
            await Task.Delay(TimeSpan.FromSeconds(4));
            Assert.InRange(Restarts(feed), ClusterSupervisor.CrashLoopStreak, 8);
        }
        finally
        {
            squatter!.Dispose();
        }
        Assert.True(await Eventually(() => Serving(port), 60), "the feed did not come back once its port was free");
    }

    private (string Id, int Port, int Pid) Instance(string service, int index)
    {
        using var state = State(_state);
        var instance = state.RootElement.GetProperty("instances").EnumerateArray()
            .Where(e => e.GetProperty("service").GetString() == service)
            .OrderBy(e => e.GetProperty("id").GetString(), StringComparer.Ordinal)
            .ElementAt(index);
        return (instance.GetProperty("id").GetString()!, instance.GetProperty("port").GetInt32(), instance.GetProperty("pid").GetInt32());
    }

    private int Restarts(string id)
    {
        using var state = State(_state);
        return state.RootElement.GetProperty("instances").EnumerateArray()
            .First(e => e.GetProperty("id").GetString() == id).GetProperty("restarts").GetInt32();
    }

    private List<int> AllPids()
    {
        using var state = State(_state);
        return [.. state.RootElement.GetProperty("members").EnumerateArray().Concat(state.RootElement.GetProperty("instances").EnumerateArray())
            .Select(e => e.GetProperty("pid").GetInt32())];
    }

    /// <summary>True when the process on <paramref name="port"/> answers grpc.health.v1 SERVING.</summary>
    private static bool Serving(int port)
    {
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        try
        {
            var reply = new Grpc.Health.V1.Health.HealthClient(channel).Check(new Grpc.Health.V1.HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
            return reply.Status == Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving;
        }
        catch (Grpc.Core.RpcException)
        {
            return false;
        }
    }

    private static bool TryListen(int port, out TcpListener? listener)
    {
        try
        {
            // SO_REUSEADDR, as Kestrel sets it: the killed feed's accepted connections linger in
            // FIN_WAIT while their peer (the paused supervisor) never closes them, and without it
            // those alone keep the port from being bound.
            listener = new TcpListener(IPAddress.Loopback, port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            listener = null;
            return false;
        }
    }

    private static Task<bool> Eventually(Func<bool> condition, double seconds = 30) => Eventually(() => Task.FromResult(condition()), seconds);

    private static async Task<bool> Eventually(Func<Task<bool>> condition, double seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }
            await Task.Delay(200);
        }
        return await condition();
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"supervisor: pid \d+ running, (\d+) restart\(s\) so far")]
    private static partial System.Text.RegularExpressions.Regex SupervisorRestarts();
}
