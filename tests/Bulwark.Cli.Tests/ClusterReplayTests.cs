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
/// from the cluster's stream that verifies as the cell itself does.
/// </summary>
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
    public async Task ClusterCell_PublishedToJetStream_VerifiesLive_AndAReplayFromTheStreamEqualsIt()
    {
        var up = await RunAsync(new Dictionary<string, string> { ["BULWARK_STORE"] = "" }, "cluster", "up", "--state", _state, "--etcd-members", "1", "--nats-servers", "1", "--cells", "2",
            // No coherence checker: its synthetic writes would change the live cell between the verify and the replay.
            // A staff edge: the customers are created by a staff member through its operator gateway.
            "--replicas", "feed=0,cards=0,edge=1,coherence=0", "--edge-port", "0");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        var map = PlacementMapCodec.Decode(await File.ReadAllBytesAsync(Path.Combine(_state, "placement.json")));
        var customers = new ClusterCustomers(_state, Password);
        var found = await customers.InEachCellAsync(map, ["a", "b"], "100.00");
        var (payer, payee) = (found["a"], found["b"]);
        using var http = new HttpClient { BaseAddress = new Uri(EdgeLine().Match(up.Output).Groups[1].Value) };
        var from = await customers.LogInAsync(http, payer);
        var payment = await ClusterCustomers.PayAsync(http, from, payee, Paid, Guid.NewGuid().ToString("n"));
        Assert.True(payment.IsSuccessStatusCode, await payment.Content.ReadAsStringAsync());
        await customers.SettledOnceAsync(payee.Email, 10_000 + Paid, TimeSpan.FromMinutes(1));

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
