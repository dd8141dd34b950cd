using System.Text.Json;
using System.Text.RegularExpressions;
using Bulwark.Platform.Placement;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>
/// A local cluster's ledger publishing to its real NATS JetStream end to end, and replayed from it:
/// <c>cluster up --cells 2</c> on SQLite with one nats-server, a payment between customers in the
/// two cells through the edge, <c>ledger verify --state</c> finding the live cell equal to the log
/// (once its relay has published), and <c>ledger replay --state</c> rebuilding a copy of the cell
/// from the cluster's stream that verifies as the cell itself does. Then the recovery drill on the
/// cluster: cell b's process is killed and its store deleted; a payment into the cell meanwhile is
/// accepted and waits; the operator stops the cell, replays it from the stream into its path,
/// verifies it and starts it again; the waiting payment lands once, reconcile finds no difference.
/// </summary>
[Collection(LocalClusterCollection.Name)]
public sealed partial class ClusterReplayTests : IDisposable
{
    private const string Password = "replay-test-password";
    private const long Paid = 777;

    private readonly string _state = Path.Combine(Path.GetTempPath(), "bulwark-replay-cluster-" + Guid.NewGuid().ToString("n"));

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

    [Fact]
    public async Task ClusterCell_PublishedToJetStream_VerifiesLive_AReplayEqualsIt_AndACellWhoseProcessAndStoreAreLostIsRebuiltFromTheStream()
    {
        var up = await RunAsync(new Dictionary<string, string> { ["BULWARK_STORE"] = "" }, "cluster", "up", "--state", _state, "--etcd-members", "1", "--nats-servers", "1", "--cells", "2",
            // No coherence checker: its synthetic writes would change the live cell between the verify and the replay.
            // A staff edge: the customers are created by a staff member through its operator gateway.
            "--replicas", "feed=0,cards=0,edge=1,coherence=0", "--edge-port", "0");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        // Both cells' first stores were made: the next up tells its new etcd, so a store lost while
        // the cluster is down is not made again owning its partitions empty.
        Assert.Equal("{\"a\":\"born\",\"b\":\"born\"}", await File.ReadAllTextAsync(Path.Combine(_state, "placement-births.json")));
        var map = PlacementMapCodec.Decode(await File.ReadAllBytesAsync(Path.Combine(_state, "placement.json")));
        var customers = new ClusterCustomers(_state, Password);
        var found = await customers.InEachCellAsync(map, ["a", "b"], "100.00");
        var (payer, payee) = (found["a"], found["b"]);
        using var http = new HttpClient { BaseAddress = new Uri(EdgeLine().Match(up.Output).Groups[1].Value) };
        var from = await customers.LogInAsync(http, payer);
        var payment = await ClusterCustomers.PayAsync(http, from, payee, Paid, Guid.NewGuid().ToString("n"));
        Assert.True(payment.IsSuccessStatusCode, await payment.Content.ReadAsStringAsync());
        Assert.Equal(10_000 + Paid, await customers.SettledOnceAsync(payee.Email, 10_000 + Paid, TimeSpan.FromMinutes(1)));

        // The relay publishes within a second or so of the commit; until then verify lists the cell's newest rows as extra.
        (int ExitCode, string Output, string Error) live = default;
        Assert.True(await EventuallyAsync(async () => (live = await RunAsync("ledger", "verify", "--state", _state, "--cell", "b")).ExitCode == 0), live.Output + live.Error);
        Assert.Contains("compared with the event log: no differences", live.Output, StringComparison.Ordinal);

        var copy = Path.Combine(_state, "replayed-b.db");
        var replay = await RunAsync("ledger", "replay", "--state", _state, "--cell", "b", "--into", copy);

        Assert.True(replay.ExitCode == 0, replay.Output + replay.Error);
        Assert.Contains("from the JetStream stream BULWARK_LEDGER_BULWARK", replay.Error, StringComparison.Ordinal);
        var both = await RunAsync("ledger", "verify", "--state", _state, "--cell", "b", "--against", copy, "--json");
        Assert.True(both.ExitCode == 0, both.Output + both.Error);
        using var json = JsonDocument.Parse(both.Output);
        var comparisons = json.RootElement.GetProperty("comparisons");
        Assert.Equal(2, comparisons.GetArrayLength());
        Assert.True(comparisons[1].GetProperty("transferRows").GetInt64() > 0);

        // The drill. Cell b's process dies and its store is gone (a lost disk): SIGKILL, then the files.
        var store = Path.Combine(_state, "data", "ledger", "ledger-b.db");
        Assert.True(File.Exists(store), store);
        await SignalAsync(LedgerPid("b"), "KILL");
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(store)!, "ledger-b.db*"))
        {
            File.Delete(file);
        }
        // A payment into the cell meanwhile: the payer's cell takes it and owes the credit leg to b,
        // which holds nothing to take it with (a store made again owns nothing): it waits, not lost.
        var waiting = await ClusterCustomers.PayAsync(http, from, payee, Paid, Guid.NewGuid().ToString("n"));
        Assert.True(waiting.IsSuccessStatusCode, await waiting.Content.ReadAsStringAsync());

        // The runbook (docs/runbooks/ledger-replay.md, local cluster): stop the cell, put aside what
        // its restarted process made, replay into its path from the stream, verify, start it.
        var unknown = await RunAsync("scale", "ledger-z", "0", "--state", _state);
        Assert.True(unknown.ExitCode != 0 && unknown.Error.Contains("the ledger has no cell 'z' (cells: a, b)", StringComparison.Ordinal), unknown.Output + unknown.Error);
        var stopped = await RunAsync("scale", "ledger-b", "0", "--state", _state);
        Assert.True(stopped.ExitCode == 0, stopped.Output + stopped.Error);
        var status = await RunAsync("cluster", "status", "--state", _state);
        Assert.True(status.ExitCode == 1, status.Output + status.Error);
        Assert.Contains("cell b STOPPED (0 instances; bulwark scale ledger-b 1 starts it)", status.Output, StringComparison.Ordinal);
        Assert.Contains("NONE: stopped alone (its partitions are not served)", status.Output, StringComparison.Ordinal);
        var tooMany = await RunAsync("scale", "ledger-b", "2", "--state", _state);
        Assert.True(tooMany.ExitCode != 0 && tooMany.Error.Contains("a cell runs as many instances as every other cell (1)", StringComparison.Ordinal), tooMany.Output + tooMany.Error);
        var aside = Path.Combine(_state, "lost-b");
        Directory.CreateDirectory(aside);
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(store)!, "ledger-b.db*"))
        {
            File.Move(file, Path.Combine(aside, Path.GetFileName(file)));
        }
        var rebuilt = await RunAsync("ledger", "replay", "--state", _state, "--cell", "b", "--into", store);
        Assert.True(rebuilt.ExitCode == 0, rebuilt.Output + rebuilt.Error);
        var verified = await RunAsync("ledger", "verify", "--state", _state, "--cell", "b");
        Assert.True(verified.ExitCode == 0, verified.Output + verified.Error);
        var started = await RunAsync("scale", "ledger-b", "1", "--state", _state);
        Assert.True(started.ExitCode == 0, started.Output + started.Error);

        // The balance the log held, and the waiting payment once, on top.
        Assert.Equal(10_000 + 2 * Paid, await customers.SettledOnceAsync(payee.Email, 10_000 + 2 * Paid, TimeSpan.FromMinutes(1)));
        (int ExitCode, string Output, string Error) reconciled = default;
        Assert.True(await EventuallyAsync(async () => (reconciled = await RunAsync("reconcile", "--state", _state, "--json")).ExitCode == 0), reconciled.Output + reconciled.Error);
        using var report = JsonDocument.Parse(reconciled.Output!);
        Assert.True(report.RootElement.GetProperty("ok").GetBoolean(), reconciled.Output);
        var afterwards = await RunAsync("ledger", "verify", "--state", _state, "--cell", "b");
        Assert.True(afterwards.ExitCode == 0 || await EventuallyAsync(async () => (afterwards = await RunAsync("ledger", "verify", "--state", _state, "--cell", "b")).ExitCode == 0),
            afterwards.Output + afterwards.Error);
    }

    private int LedgerPid(string cell)
    {
        using var state = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_state, "cluster.json")));
        return state.RootElement.GetProperty("instances").EnumerateArray()
            .Single(instance => instance.GetProperty("service").GetString() == "ledger" && instance.TryGetProperty("cell", out var named) && named.GetString() == cell)
            .GetProperty("pid").GetInt32();
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }
            await Task.Delay(500);
        }
        return false;
    }

    [GeneratedRegex(@"edge \(app API and web UI\) listening on (http://127\.0\.0\.1:\d+/)")]
    private static partial Regex EdgeLine();
}
