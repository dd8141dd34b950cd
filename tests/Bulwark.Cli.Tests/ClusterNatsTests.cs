using System.Text;
using System.Text.Json;
using Bulwark.EventLog;
using Bulwark.EventLog.JetStream;
using Bulwark.Lab.Cluster;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>
/// The event log's NATS servers in the local cluster, against the real nats-server: <c>cluster up</c>
/// starts three routed JetStream servers and creates the bank's stream at three replicas, status
/// shows them, a server killed with SIGKILL loses no acknowledged record (a quorum holds) and the
/// supervisor brings it back, down stops every one, and up again finds the records. Otherwise the
/// smallest cluster: one etcd member, no service instances.
/// </summary>
[Collection(LocalClusterCollection.Name)]
public sealed class ClusterNatsTests : IDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), "bulwark-nats-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (File.Exists(Path.Combine(_state, "cluster.json")))
        {
            RunAsync("cluster", "down", "--state", _state).GetAwaiter().GetResult();
        }
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    private static readonly string[] Smallest = ["--etcd-members", "1", "--replicas", "ledger=0,accounts=0,feed=0,cards=0,edge=0,staff-edge=0,support=0,coherence=0,config=0", "--card-rate", "0"];

    [Fact]
    public async Task Up_ThreeNatsServers_StreamSurvivesAKilledServerDownAndUp()
    {
        var up = await RunAsync(["cluster", "up", "--state", _state, .. Smallest]);
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        Assert.Matches(@"nats: 3 server\(s\) healthy at nats://127\.0\.0\.1:\d+,nats://127\.0\.0\.1:\d+,nats://127\.0\.0\.1:\d+, stream BULWARK_LEDGER_BULWARK with 3 replica\(s\)", up.Output);
        var status = await HealthyStatusAsync();
        Assert.Contains("nats: 3 server(s), stream BULWARK_LEDGER_BULWARK: 3 replica(s), 0 message(s)", status, StringComparison.Ordinal);
        Assert.Equal(3, System.Text.RegularExpressions.Regex.Matches(status, @"nats\d +nats://127\.0\.0\.1:\d+ +pid \d+ +healthy, JetStream on, 0 restart\(s\)").Count);

        var address = Address();
        await using (var log = await RetryAsync(() => JetStreamEventLog.OpenAsync(address.Options(3))))
        {
            await RetryAsync(() => log.AppendAsync(Records(1, 10)));

            // SIGKILL one server: the other two are a quorum of the stream's three replicas.
            var killed = NatsServer("nats2");
            await SignalAsync(killed.Pid, "KILL");
            var more = await RetryAsync(() => log.AppendAsync(Records(11, 20)));
            Assert.Equal(10, more.Appended + more.Duplicates);

            // The supervisor starts it again on its ports and data; it rejoins and catches up.
            Assert.True(await EventuallyAsync(() => Task.FromResult(NatsServer("nats2").Pid != killed.Pid && IsAlive(NatsServer("nats2").Pid))), "the killed NATS server was not restarted");
            Assert.Equal(killed.Port, NatsServer("nats2").Port);
            status = await HealthyStatusAsync();
            Assert.Matches(@"nats2 +nats://127\.0\.0\.1:\d+ +pid \d+ +healthy, JetStream on, 1 restart\(s\)", status);
            Assert.Contains("stream BULWARK_LEDGER_BULWARK: 3 replica(s), 20 message(s)", status, StringComparison.Ordinal);

            // A hung server (SIGSTOP: alive, silent) is not restarted, but status says so and exits 1.
            var hung = NatsServer("nats3").Pid;
            await SignalAsync(hung, "STOP");
            try
            {
                var unhealthy = await RunAsync("cluster", "status", "--state", _state);
                Assert.Equal(1, unhealthy.ExitCode);
                Assert.Matches(@"nats3 +nats://127\.0\.0\.1:\d+ +pid \d+ +UNHEALTHY \(monitoring port unreachable\)", unhealthy.Output);
            }
            finally
            {
                await SignalAsync(hung, "CONT");
            }
        }

        var pids = NatsPids();
        Assert.Equal(3, pids.Count);
        var down = await RunAsync("cluster", "down", "--state", _state);
        Assert.True(down.ExitCode == 0, down.Output + down.Error);
        Assert.Matches(@"nats server nats1 \(pid \d+\): stopped", down.Output);
        Assert.All(pids, pid => Assert.False(IsAlive(pid), $"NATS pid {pid} still running after down"));

        // Up again on the same state: new ports, the same servers' data, the stream with its records;
        // with the ledger's cells this time, which get every server's address in their environment.
        var again = await RunAsync("cluster", "up", "--state", _state, "--etcd-members", "1", "--replicas", "ledger=1,accounts=0,feed=0,cards=0,edge=0,staff-edge=0,support=0,coherence=0,config=0", "--card-rate", "0");
        Assert.True(again.ExitCode == 0, again.Output + again.Error);
        var ledgers = LedgerPids();
        Assert.NotEmpty(ledgers);
        Assert.All(ledgers, pid => Assert.Contains($"BULWARK_EVENT_LOG={Address().Url}", File.ReadAllText($"/proc/{pid}/environ").Split('\0')));
        await using (var log = await RetryAsync(() => JetStreamEventLog.OpenAsync(Address().Options(3))))
        {
            Assert.Equal(20, await RetryAsync(() => log.GetLastSequenceAsync(1)));
            var read = await RetryAsync(async () =>
            {
                var records = new List<EventRecord>();
                await foreach (var record in log.ReadAsync(1))
                {
                    records.Add(record);
                }
                return records;
            });
            Assert.Equal(Records(1, 20).Select(r => Encoding.UTF8.GetString(r.Payload.Span)), read.Select(r => Encoding.UTF8.GetString(r.Payload.Span)));
        }
    }

    [Fact]
    public void Load_StateFileFromBeforeNats_HasNone()
    {
        Directory.CreateDirectory(_state);
        File.WriteAllText(Path.Combine(_state, "cluster.json"), """
            {"etcdToken":"t","members":[{"name":"etcd1","clientPort":2379,"peerPort":2380,"pid":0}],"services":[],"instances":[]}
            """);

        var state = ClusterState.Load(_state)!;

        Assert.Empty(state.NatsServers);
        Assert.Null(state.EventLogAddress);
        File.Delete(Path.Combine(_state, "cluster.json"));
    }

    [Fact]
    public async Task Up_NatsServerNotOnPath_NamesThePackage()
    {
        // The dotnet host's directory and etcd, but not nats-server (links resolved: /usr/bin would bring more along).
        var bin = Directory.CreateDirectory(Path.Combine(_state, "bin")).FullName;
        File.CreateSymbolicLink(Path.Combine(bin, "etcd"), LocalEtcd.RequireBinary());
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "dotnet")).First(File.Exists);
        var dotnet = Path.GetDirectoryName(new FileInfo(onPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? onPath)!;

        var result = await RunAsync(new Dictionary<string, string> { ["PATH"] = $"{dotnet}:{bin}" }, ["cluster", "up", "--state", _state, .. Smallest]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("bulwark cluster up: nats-server is not on PATH: install it (Debian/Ubuntu: apt-get install nats-server)", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_state, "cluster.json")), "a refused up started something");
    }

    private async Task<string> HealthyStatusAsync()
    {
        var status = await RunAsync("cluster", "status", "--state", _state);
        for (var attempt = 0; attempt < 30 && status.ExitCode != 0; attempt++)
        {
            await Task.Delay(1000);
            status = await RunAsync("cluster", "status", "--state", _state);
        }
        Assert.True(status.ExitCode == 0, status.Output + status.Error);
        return status.Output;
    }

    private static List<EventRecord> Records(int from, int to) =>
        [.. Enumerable.Range(from, to - from + 1).Select(i => new EventRecord(1, i, "a", i, 1, Encoding.UTF8.GetBytes($"record {i}")))];

    private EventLogAddress Address()
    {
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_state, "cluster.json")));
        var url = string.Join(",", state.RootElement.GetProperty("natsServers").EnumerateArray().Select(s => $"nats://127.0.0.1:{s.GetProperty("clientPort").GetInt32()}"));
        Assert.True(EventLogAddress.TryParse(url, out var address, out var error), error);
        return address!;
    }

    private (int Pid, int Port) NatsServer(string name)
    {
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_state, "cluster.json")));
        var server = state.RootElement.GetProperty("natsServers").EnumerateArray().First(s => s.GetProperty("name").GetString() == name);
        return (server.GetProperty("pid").GetInt32(), server.GetProperty("clientPort").GetInt32());
    }

    private List<int> LedgerPids()
    {
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_state, "cluster.json")));
        return [.. state.RootElement.GetProperty("instances").EnumerateArray().Where(i => i.GetProperty("service").GetString() == "ledger").Select(i => i.GetProperty("pid").GetInt32())];
    }

    private List<int> NatsPids()
    {
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_state, "cluster.json")));
        return [.. state.RootElement.GetProperty("natsServers").EnumerateArray().Select(s => s.GetProperty("pid").GetInt32())];
    }

    /// <summary>Retried while NATS elects leaders (after a start or a lost server), bounded.</summary>
    private static async Task<T> RetryAsync<T>(Func<Task<T>> operation)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await operation();
            }
            catch (EventLogException error) when (error.Error == EventLogError.Unavailable && attempt < 60)
            {
                await Task.Delay(500);
            }
        }
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, double seconds = 30)
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
}
