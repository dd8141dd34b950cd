using System.Text.Json;
using Bulwark.EventLog;
using Bulwark.EventLog.JetStream;
using Bulwark.Lab.Cluster;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>
/// <c>bulwark reconcile</c> against a <c>cluster up</c> cluster (real etcd, a process per ledger cell,
/// two card processors each with its own journal, the cluster's scheme sending card traffic while
/// reconcile runs): found through its state directory (through etcd alone it is refused in one line:
/// reconcile acts as a staff member through the operator gateway, which etcd does not name), every
/// card processor's journal is read and the ledger's cells are checked. Then the stream loses a partition's newest event (as
/// a broker that lost acknowledged messages would): reconcile names it repairable, --repair republishes
/// it from the cell's outbox, and reconcile is clean again with the event in the stream once.
/// </summary>
[Collection(LocalClusterCollection.Name)]
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

        await LostEventRepublished_AndTheStreamHoldsItOnce();
    }

    private async Task LostEventRepublished_AndTheStreamHoldsItOnce()
    {
        Assert.True(EventLogAddress.TryParse(ClusterState.Load(_state)!.EventLogAddress, out var address, out var error), error);
        var options = address!.Options(1);
        await using var nats = new NatsConnection(new NatsOpts { Url = address.Url });
        // The ledger quiet (no card traffic, no checker writes), the stream loses one partition's
        // newest event, as a broker that lost acknowledged messages would: the stream is made again
        // from its own records without that one. (Deleting the message in place, or purging the
        // subject, does not do: nats-server 2.9 then answers the subject's last message, or takes its
        // next, as if its old history were still there.)
        foreach (var service in new[] { "cards", "coherence" })
        {
            var quiet = await RunAsync("scale", service, "0", "--state", _state);
            Assert.True(quiet.ExitCode == 0, quiet.Output + quiet.Error);
        }
        await Task.Delay(TimeSpan.FromSeconds(3));
        var history = new Dictionary<int, List<EventRecord>>();
        await using (var reader = await JetStreamEventLog.OpenAsync(options))
        {
            await foreach (var record in reader.ReadPartitionsAsync(Enumerable.Range(0, 256)))
            {
                (history.TryGetValue(record.Partition, out var list) ? list : history[record.Partition] = []).Add(record);
            }
        }
        var partition = history.OrderByDescending(pair => pair.Value.Count).First().Key;
        var lost = history[partition][^1];
        await new NatsJSContext(nats).DeleteStreamAsync(options.Stream);
        await using (var refill = await JetStreamEventLog.OpenAsync(options))
        {
            foreach (var (each, records) in history)
            {
                await refill.AppendAsync(each == partition ? records[..^1] : records);
            }
            Assert.Equal(lost.Sequence - 1, await refill.GetLastSequenceAsync(partition));
        }

        // (Exit codes are not asserted: with no card processor the card-journal check cannot run.)
        var (_, output, _) = await RunAsync("reconcile", "--state", _state, "--json");
        using (var report = JsonDocument.Parse(output))
        {
            var check = Check(report, "event-log");
            Assert.Equal("DIFFERENCES", check.GetProperty("result").GetString());
            var finding = Assert.Single(check.GetProperty("findings").EnumerateArray(), finding => finding.GetProperty("kind").GetString() != "in flight"
                && finding.GetProperty("subject").GetString()!.EndsWith($" partition {partition}", StringComparison.Ordinal));
            Assert.True(finding.GetProperty("kind").GetString() == "repairable", output);
            Assert.Contains("--repair republishes them", finding.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        (_, output, _) = await RunAsync("reconcile", "--state", _state, "--repair", "--json");
        using (var report = JsonDocument.Parse(output))
        {
            var check = Check(report, "event-log");
            Assert.Equal(1, check.GetProperty("repaired").GetInt64());
            var finding = Assert.Single(check.GetProperty("findings").EnumerateArray(), finding => finding.GetProperty("kind").GetString() == "repaired"
                && finding.GetProperty("subject").GetString()!.EndsWith($" partition {partition}", StringComparison.Ordinal));
            Assert.Contains("1 appended, 0 already in the log", finding.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        // The event is back, once, byte for byte; a second --repair finds nothing to write.
        await AssertBackOnceAsync(options, partition, lost);
        (_, output, _) = await RunAsync("reconcile", "--state", _state, "--repair", "--json");
        using (var report = JsonDocument.Parse(output))
        {
            Assert.Equal("ok", Check(report, "event-log").GetProperty("result").GetString());
        }
        await AssertBackOnceAsync(options, partition, lost);
    }

    private static async Task AssertBackOnceAsync(JetStreamEventLogOptions options, int partition, EventRecord lost)
    {
        await using var reader = await JetStreamEventLog.OpenAsync(options);
        var records = new List<EventRecord>();
        await foreach (var record in reader.ReadAsync(partition))
        {
            records.Add(record);
        }
        Assert.Equal(Enumerable.Range(1, records.Count).Select(sequence => (long)sequence), records.Select(record => record.Sequence));
        Assert.True(records.Single(record => record.Sequence == lost.Sequence).HasSameBody(lost));
    }

    private static string Registry(string upOutput)
    {
        var line = upOutput.Split('\n').Single(line => line.StartsWith("etcd: ", StringComparison.Ordinal));
        return line[line.IndexOf("etcd://", StringComparison.Ordinal)..].Split(' ')[0];
    }

    private static JsonElement Check(JsonDocument report, string name) =>
        report.RootElement.GetProperty("checks").EnumerateArray().Single(check => check.GetProperty("name").GetString() == name);
}
