using System.Globalization;
using System.Text.RegularExpressions;
using Bulwark.Ledger;
using Bulwark.Platform.Placement;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>
/// The cluster's ledger on cells (docs/internals/cells.md, "Cells in a cluster"): <c>cluster up
/// --cells 2</c> on the cluster's own PostgreSQL (real etcd, real PostgreSQL, each cell its own
/// database and process), customers whose accounts are in different cells paying each other
/// through the edge, <c>ledger check --state</c> across the cells, <c>cluster status</c> showing
/// them, <c>cells add</c> starting a third cell's process on its own database and <c>cells move</c>
/// giving it the payer's partition, and <c>serve --cell</c> refusing a cell the map does not have.
/// The same on SQLite with a process killed at each step is <see cref="ClusterCellMoveTests"/>. One small cluster (one etcd
/// member, no feed, no card processor) keeps it short.
/// </summary>
[Collection(LocalClusterCollection.Name)]
public sealed partial class ClusterCellsTests : IDisposable
{
    private const string Password = "cells-test-password";
    private const long OpeningBalance = 10_000;
    private const long Paid = 1_234;

    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(1);

    private readonly string _state = Path.Combine(Path.GetTempPath(), "bulwark-cells-" + Guid.NewGuid().ToString("n"));

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

    /// <summary>Status reads before the checks must have passed: a round every 5 s, far more than needed.</summary>
    private const int CoherenceStatusReadsMax = 120;

    private async Task CoherencePassesAsync(IReadOnlyList<(string Cell, string Check)> wanted)
    {
        var output = "";
        for (var read = 0; read < CoherenceStatusReadsMax; read++)
        {
            var coherence = await RunAsync("coherence", "status", "--state", _state, "--json");
            output = coherence.Output + coherence.Error;
            if (coherence.ExitCode == 0)
            {
                using var json = System.Text.Json.JsonDocument.Parse(coherence.Output);
                var checks = json.RootElement.EnumerateArray().SelectMany(instance => instance.GetProperty("checks").EnumerateArray()).ToList();
                Assert.DoesNotContain(checks, check => check.GetProperty("result").GetString() == "missing" && check.GetProperty("total").GetInt64() > 0);
                if (wanted.All(pair => checks.Any(check => check.GetProperty("cell").GetString() == pair.Cell
                    && check.GetProperty("check").GetString() == pair.Check && check.GetProperty("result").GetString() == "ok" && check.GetProperty("total").GetInt64() > 0)))
                {
                    return;
                }
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
        Assert.Fail($"the coherence checks did not all pass after {CoherenceStatusReadsMax} status reads:\n{output}");
    }

    [Fact]
    public async Task ClusterOnTwoCells_CustomersInDifferentCellsPayEachOther_CheckedAcrossCells_CellAddedAndAPartitionMoved_UnknownCellRefused()
    {
        var up = await RunAsync("cluster", "up", "--state", _state, "--etcd-members", "1", "--nats-servers", "0", "--cells", "2", "--store", "postgres",
            // The feed runs: the checker's app_read reads the probe's transactions through it.
            "--replicas", "feed=1,cards=0,edge=1", "--edge-port", "0");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        Assert.Contains("placement: 2 ledger cell(s) (a: 128 partitions, b: 128 partitions)", up.Output, StringComparison.Ordinal);
        Assert.Matches(@"ledger: 2 instance\(s\) healthy \(cell a 127\.0\.0\.1:\d+, cell b 127\.0\.0\.1:\d+\)", up.Output);
        var map = PlacementMapCodec.Decode(await File.ReadAllBytesAsync(Path.Combine(_state, "placement.json")));
        var edge = new Uri(EdgeLine().Match(up.Output).Groups[1].Value);

        var customers = new ClusterCustomers(_state, Password);
        var found = await customers.InEachCellAsync(map, ["a", "b"], "100.00");
        var (payer, payee) = (found["a"], found["b"]);
        using var http = new HttpClient { BaseAddress = edge };
        var from = await customers.LogInAsync(http, payer);
        var payment = await ClusterCustomers.PayAsync(http, from, payee, Paid, Guid.NewGuid().ToString("n"));
        Assert.True(payment.IsSuccessStatusCode, await payment.Content.ReadAsStringAsync());

        // The debit leg is answered in the payer's cell; the credit leg reaches the payee's cell
        // with the answer or soon after (it is durable either way).
        Assert.Equal(OpeningBalance - Paid, await customers.SettledAsync(payer.Email));
        Assert.Equal(OpeningBalance + Paid, await customers.SettledOnceAsync(payee.Email, OpeningBalance + Paid, Bound));

        var check = await RunAsync("ledger", "check", "--state", _state);
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.Contains("sum 0; 2 cells", check.Output, StringComparison.Ordinal);

        // The cluster's checker, on PostgreSQL too: app_read through the edge as each cell's
        // synthetic customers (their records in the accounts service's PostgreSQL schema), and the
        // configuration service's checks through its configuration client; nothing missing.
        await CoherencePassesAsync([("a", "app_read"), ("b", "app_read"), ("config", "config_write"), ("config", "config_read"), ("config", "config_known_read")]);

        var status = await RunAsync("cluster", "status", "--state", _state);
        Assert.Matches(@"cells: 2, placement map version 1, 256 partitions", status.Output);
        Assert.Matches(@"\n  a +128 +ledger-\d+ SERVING", status.Output);
        Assert.Matches(@"\n  b +128 +ledger-\d+ SERVING", status.Output);

        // A third cell on PostgreSQL: its database made, its ledger process started and healthy;
        // then the payer's partition moved to it, and the payer's money is where it was.
        var add = await RunAsync("cells", "add", "c", "--state", _state);
        Assert.True(add.ExitCode == 0, add.Output + add.Error);
        Assert.Matches(@"ledger-\d+ healthy at 127\.0\.0\.1:\d+ \(cell c\)", add.Output);
        var partition = Bulwark.Ledger.LedgerPartitioner.PartitionOf(payer.LedgerAccount, map.PartitionCount);
        var move = await RunAsync("cells", "move", partition.ToString(CultureInfo.InvariantCulture), "--to", "c", "--grace", "1", "--state", _state);
        Assert.True(move.ExitCode == 0, move.Output + move.Error);
        Assert.Contains(FormattableString.Invariant($"moved partition {partition} from cell a to c at epoch 2"), move.Output, StringComparison.Ordinal);
        Assert.Equal(OpeningBalance - Paid, await customers.SettledAsync(payer.Email));
        var cells = await RunAsync("cells", "status", "--state", _state);
        Assert.True(cells.ExitCode == 0, cells.Output + cells.Error);
        Assert.Matches(@"\nc +1 +1 +-", cells.Output);
        check = await RunAsync("ledger", "check", "--state", _state);
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.Contains("sum 0; 3 cells", check.Output, StringComparison.Ordinal);

        var unknown = await RunAsync("serve", "--service", "ledger", "--cell", "zz", "--registry", customers.Registry(), "--data", Path.Combine(_state, "stray"));
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("bulwark serve: ledger-zz cannot start: cell 'zz' is not in the placement map (version 3): its cells are a, b, c.", unknown.Error, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"edge \(app API and web UI\) listening on (http://127\.0\.0\.1:\d+/)")]
    private static partial Regex EdgeLine();
}
