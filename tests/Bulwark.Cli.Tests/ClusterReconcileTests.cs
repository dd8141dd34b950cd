using System.Text.Json;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>
/// <c>bulwark reconcile</c> against a <c>cluster up</c> cluster (real etcd, a process per ledger cell,
/// two card processors each with its own journal, the cluster's scheme sending card traffic while
/// reconcile runs): found through its state directory or its etcd, every card processor's journal
/// is read, and the ledger's cells are checked from the state (through etcd alone they cannot be read,
/// and the report says so rather than passing).
/// </summary>
public sealed class ClusterReconcileTests : IDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), "bulwark-reconcile-cluster-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        // Whatever happened, nothing this test started keeps running: down stops by the PIDs in the state.
        if (File.Exists(Path.Combine(_state, "cluster.json")))
        {
            RunAsync("cluster", "down", "--state", _state).GetAwaiter().GetResult();
        }
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    [Fact]
    public async Task Reconcile_OnAClusterWithTwoCellsAndTwoCardProcessorsUnderCardTraffic_EveryCheckPasses()
    {
        var up = await RunAsync("cluster", "up", "--state", _state, "--etcd-members", "1", "--nats-servers", "1", "--cells", "2",
            "--replicas", "feed=0,cards=2,edge=1", "--edge-port", "0", "--customers", "2");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);

        var (exitCode, output, error) = await RunAsync("reconcile", "--state", _state, "--json");
        Assert.True(exitCode == 0, output + error);
        using (var report = JsonDocument.Parse(output))
        {
            Assert.True(report.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal("ok", Check(report, "movements").GetProperty("result").GetString());
            Assert.True(Check(report, "movements").GetProperty("compared").GetInt64() >= 2, "the demo seeder moves money into a pot for each customer");
            Assert.Equal("ok", Check(report, "card-journal").GetProperty("result").GetString());
            Assert.Equal("2 card processor(s)", Check(report, "card-journal").GetProperty("note").GetString());
            Assert.Equal("ok", Check(report, "transit").GetProperty("result").GetString());
            Assert.StartsWith("2 cell(s)", Check(report, "transit").GetProperty("note").GetString(), StringComparison.Ordinal);
            // Each cell against the cluster's NATS stream, under card traffic: partitions whose
            // newest events are not published yet are in flight, never differences.
            Assert.Equal("ok", Check(report, "event-log").GetProperty("result").GetString());
            Assert.StartsWith("2 cell(s) against the JetStream stream", Check(report, "event-log").GetProperty("note").GetString(), StringComparison.Ordinal);
            Assert.True(Check(report, "event-log").GetProperty("compared").GetInt64() > 0);
        }

        var registry = Registry(up.Output);
        // Reconcile acts as a staff member through the staff edge's operator gateway, which etcd does not name: refused in one line.
        var throughEtcd = await RunAsync("reconcile", "--registry", registry, "--json");
        Assert.Equal(2, throughEtcd.ExitCode);
        Assert.Contains("pass --state DIR", throughEtcd.Error, StringComparison.Ordinal);
    }

    private static string Registry(string upOutput)
    {
        var line = upOutput.Split('\n').Single(line => line.StartsWith("etcd: ", StringComparison.Ordinal));
        return line[line.IndexOf("etcd://", StringComparison.Ordinal)..].Split(' ')[0];
    }

    private static JsonElement Check(JsonDocument report, string name) =>
        report.RootElement.GetProperty("checks").EnumerateArray().Single(check => check.GetProperty("name").GetString() == name);
}
