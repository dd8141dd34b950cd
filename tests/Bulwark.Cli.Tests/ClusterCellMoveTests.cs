using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Bulwark.Cli.Operator;
using Bulwark.Lab.Cluster;
using Bulwark.Ledger;
using Bulwark.Ledger.Cells;
using Bulwark.Platform.Placement;
using Xunit.Abstractions;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>
/// Moving partitions on a cluster of processes (SQLite, real etcd), with payments flowing through
/// the edge from the account whose partition moves, and one real kill per component in the middle
/// of a move (issue 12): the source ledger process killed -9 while the partition is paused, the
/// target killed -9 after the release (the point of no return: nobody serves the partition until it
/// is back), etcd hung (SIGSTOP) at the map's flip, and the mover itself (<c>bulwark cells move</c>)
/// killed -9 mid-copy. Each time the same command run again finishes the move; then <c>cells
/// rebalance</c> spreads the partitions over the three cells. At the end every
/// acknowledged payment is in both balances exactly once, nothing else is, and the ledger checks
/// clean across the three cells. The in-process tests (PartitionMoveResumeTests) kill the mover at
/// every step; here each process really dies.
/// </summary>
[Collection(LocalClusterCollection.Name)]
public sealed partial class ClusterCellMoveTests(ITestOutputHelper output) : IDisposable
{
    private const string Password = "cell-move-test-password";
    private const long OpeningBalance = 1_000_000;
    private const long Paid = 100;

    /// <summary>Payments at most in the whole test, and the pause between two.</summary>
    private const int PaymentsMax = 4_000;
    private static readonly TimeSpan PaymentInterval = TimeSpan.FromMilliseconds(40);

    /// <summary>How long one payment is retried (its own idempotency key) while its cell restarts or moves.</summary>
    private static readonly TimeSpan PaymentBound = TimeSpan.FromSeconds(90);

    /// <summary>Tries at killing the mover command in the middle of its copy before the test gives up (a move can finish before the kill lands).</summary>
    private const int MoverKillAttempts = 4;

    private readonly string _state = Path.Combine(Path.GetTempPath(), "bulwark-cellmove-" + Guid.NewGuid().ToString("n"));

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
    public async Task Cluster_PartitionMovedUnderPayments_SourceTargetEtcdAndMoverEachKilledMidMove_ResumedWithNothingLost()
    {
        // SQLite: no --store, and none from the environment either.
        var up = await RunAsync(new Dictionary<string, string> { ["BULWARK_STORE"] = "" }, "cluster", "up", "--state", _state, "--etcd-members", "1", "--nats-servers", "1", "--cells", "2",
            "--replicas", "feed=0,cards=0,edge=1", "--edge-port", "0");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        var edge = new Uri(EdgeLine().Match(up.Output).Groups[1].Value);
        var map = PlacementMapCodec.Decode(await File.ReadAllBytesAsync(Path.Combine(_state, "placement.json")));
        var customers = new ClusterCustomers(_state, Password);
        var found = await customers.InEachCellAsync(map, ["a", "b"], "10000.00");
        var (payer, payee) = (found["a"], found["b"]);
        var partition = LedgerPartitioner.PartitionOf(payer.LedgerAccount, map.PartitionCount);

        var add = await RunAsync("cells", "add", "c", "--state", _state);
        Assert.True(add.ExitCode == 0, add.Output + add.Error);
        Assert.Contains("cell c is serving; it owns no partitions yet", add.Output, StringComparison.Ordinal);

        using var http = new HttpClient { BaseAddress = edge, Timeout = TimeSpan.FromSeconds(30) };
        var from = await customers.LogInAsync(http, payer);
        using var stopPayments = new CancellationTokenSource();
        var payments = new Payments(http, from, payee);
        var paying = Task.Run(() => payments.RunAsync(stopPayments.Token), CancellationToken.None);
        var log = new List<string>();
        try
        {
            // 1. The source (a) killed -9 while the partition is paused for its move to c: the
            // pause's lease gives it back to a when the supervisor restarts it; the move run again finishes.
            await MoveKillingAsync(partition, "c", "verify", KillCell("a"), log);
            await ResumeAsync(partition, "c", "a", log);

            // 2. The target (b) killed -9 right after c released the partition to it: nobody
            // serves it until b is back (callers retry), then the move run again gives it to b.
            await MoveKillingAsync(partition, "b", "released", KillCell("b"), log);
            await ResumeAsync(partition, "b", "c", log);

            // 3. etcd hung (SIGSTOP: connections accepted, never answered) at the flip: a owns the
            // partition but the map may still say b; callers are sent on by b's refusal. The move
            // stops with a line saying the map could not be changed, and run again once etcd answers finishes.
            var etcdPid = ClusterState.Load(_state)!.Members[0].Pid;
            try
            {
                await MoveKillingAsync(partition, "a", "flip", () => SignalAsync(etcdPid, "STOP").GetAwaiter().GetResult(), log);
            }
            finally
            {
                await SignalAsync(etcdPid, "CONT");
            }
            // A hung etcd may take the transaction in and apply it once it runs again, the answer
            // lost: then the move run again finds the map flipped and only deletes b's old copy.
            await ResumeAsync(partition, "a", "b", log, mayBeDone: true);

            // 4. The mover itself killed -9 while it copies.
            await KillMoverMidMoveAsync(partition, log);

            // Then the cluster's partitions spread over the three cells, payments still flowing.
            var rebalance = await RunAsync("cells", "rebalance", "--grace", "1", "--state", _state);
            log.Add($"cells rebalance: exit {rebalance.ExitCode} {rebalance.Output.Split('\n').LastOrDefault(line => line.Length > 0)} {rebalance.Error.Trim()}");
            Assert.True(rebalance.ExitCode == 0, rebalance.Output + rebalance.Error);
            Assert.Contains("rebalanced: ", rebalance.Output, StringComparison.Ordinal);
        }
        finally
        {
            await stopPayments.CancelAsync();
            await paying;
            output.WriteLine(string.Join('\n', log));
            output.WriteLine($"payments acknowledged: {payments.Acknowledged}, retried: {payments.Retries}, failed: {payments.Failed.Count}");
        }

        Assert.True(payments.Failed.IsEmpty, "payments that never got an answer or were refused:\n" + string.Join('\n', payments.Failed) + "\n" + string.Join('\n', log));
        Assert.True(payments.Acknowledged > 20, $"only {payments.Acknowledged} payments acknowledged while partitions moved");
        var paid = payments.Acknowledged * Paid;
        Assert.Equal(OpeningBalance - paid, await customers.SettledAsync(payer.Email));
        Assert.Equal(OpeningBalance + paid, await customers.SettledOnceAsync(payee.Email, OpeningBalance + paid, TimeSpan.FromMinutes(1)));

        var status = await RunAsync("cells", "status", "--json", "--state", _state);
        Assert.True(status.ExitCode == 0, status.Output + status.Error + string.Join('\n', log));
        using (var cells = JsonDocument.Parse(status.Output))
        {
            // 256 partitions over 3 cells: 85 or 86 each, every one owned where the map says.
            Assert.All(cells.RootElement.GetProperty("cells").EnumerateArray(), cell =>
                Assert.InRange(cell.GetProperty("owned").GetInt32(), 85, 86));
        }
        var check = await RunAsync("ledger", "check", "--state", _state);
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.Contains("sum 0; 3 cells", check.Output, StringComparison.Ordinal);

        // R13 end to end: every cell published to the cluster's NATS, through the kills and moves.
        // Once the relays have caught up (a moved partition's new owner waits for its source's
        // events), the log holds every transfer row the cells hold of the partitions they own, once.
        await AssertEventLogHoldsEveryRowAsync(map.PartitionCount);

        // A second process for a cell that runs (an operator's mistake) is refused: one writer per store.
        var second = await RunAsync(new Dictionary<string, string> { ["BULWARK_STORE"] = "" }, "serve", "--service", "ledger", "--cell", "a",
            "--registry", customers.Registry(), "--data", Path.Combine(_state, "data", "ledger"), "--port", "0");
        Assert.NotEqual(0, second.ExitCode);
        Assert.True(second.Error.Contains("Another process is writing the ledger store", StringComparison.Ordinal), second.Error);
    }

    /// <summary>
    /// The rows (id/leg) the cells' stores hold of the partitions each owns equal the rows the
    /// event log holds across all partitions, each once; retried while the relays catch up, bounded.
    /// </summary>
    private async Task AssertEventLogHoldsEveryRowAsync(int partitions)
    {
        var url = ClusterState.Load(_state)!.EventLogAddress;
        Assert.True(Bulwark.EventLog.JetStream.EventLogAddress.TryParse(url, out var address, out var error), error);
        await using var log = await Bulwark.EventLog.JetStream.JetStreamEventLog.OpenAsync(address!.Options(1));
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            var stored = await OwnedRowsAsync();
            var logged = new List<string>();
            try
            {
                await foreach (var record in Bulwark.EventLog.EventLogExtensions.ReadPartitionsAsync(log, Enumerable.Range(0, partitions)))
                {
                    var change = Bulwark.Ledger.Events.PartitionChange.Parser.ParseFrom(record.Payload.ToArray());
                    logged.AddRange(change.TransfersWritten.Select(row => $"{row.Id.High:x16}{row.Id.Low:x16}/{(int)row.Leg}"));
                }
            }
            catch (Bulwark.EventLog.EventLogException unavailable) when (unavailable.Error == Bulwark.EventLog.EventLogError.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(1_000);
                continue;
            }
            Assert.Equal(logged.Count, logged.Distinct(StringComparer.Ordinal).Count());
            if (stored.SetEquals(logged))
            {
                Assert.NotEmpty(stored);
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{stored.Count} rows in the cells' owned partitions, {logged.Count} in the event log; {stored.Except(logged).Count()} missing from the log, {logged.Except(stored).Count()} only in the log");
            await Task.Delay(1_000);
        }
    }

    private async Task<HashSet<string>> OwnedRowsAsync()
    {
        var rows = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in new[] { "ledger.db", "ledger-b.db", "ledger-c.db" })
        {
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_state, "data", "ledger", file)};Mode=ReadOnly;Pooling=False");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT hex(id), leg FROM transfers WHERE partition IN (SELECT partition FROM partition_owners WHERE state = 1)";
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows.Add($"{reader.GetString(0).ToLowerInvariant()}/{reader.GetInt64(1)}");
            }
        }
        return rows;
    }

    /// <summary>Moves <paramref name="partition"/> with the mover in this process and <paramref name="kill"/>s at <paramref name="step"/>; the move must stop there with a line saying why.</summary>
    private async Task MoveKillingAsync(int partition, string target, string step, Action kill, List<string> log)
    {
        // Straight to the services (the bootstrap connection): this test is about the mover's crash points, run in this
        // process, whose environment every other test shares; the gateway's path is OperatorGatewayProcessTests'.
        await using var bank = await BankConnection.ConnectAsync(new BankTarget(null, _state, null) { Direct = true }, CancellationToken.None);
        var mover = new PartitionMover(bank.Placement!, bank.CellAdmin, new PartitionMoveOptions { CallDeadline = TimeSpan.FromSeconds(10), PauseAttemptsMax = 1 });
        var killed = false;
        var progress = new Steps(report =>
        {
            log.Add($"{report.Step}: {report.Source} → {report.Target}");
            if (report.Step == step && !killed)
            {
                killed = true;
                kill();
            }
        });
        var error = await Assert.ThrowsAsync<PartitionMoveException>(() => mover.MoveAsync(partition, target, progress));
        Assert.True(killed, $"the move stopped before {step}: {error.Message}");
        log.Add("stopped: " + error.Message);
    }

    /// <summary>
    /// Runs <c>bulwark cells move</c> again until it finishes (the killed process may still be
    /// coming back: the command then says the cell did not answer), bounded. <paramref name="mayBeDone"/>:
    /// the move may have got past its flip before it stopped, and the command then only deletes the old copy.
    /// </summary>
    private async Task ResumeAsync(int partition, string target, string source, List<string> log, bool mayBeDone = false)
    {
        var text = partition.ToString(CultureInfo.InvariantCulture);
        for (var attempt = 1; ; attempt++)
        {
            var move = await RunAsync("cells", "move", text, "--to", target, "--grace", "1", "--state", _state);
            log.Add($"cells move {text} --to {target}: exit {move.ExitCode} {move.Output.Trim()} {move.Error.Trim()}");
            if (move.ExitCode == 0)
            {
                var moved = move.Output.Contains(FormattableString.Invariant($"moved partition {partition} from cell {source} to {target}"), StringComparison.Ordinal);
                var already = mayBeDone && move.Output.Contains(FormattableString.Invariant($"partition {partition} is already at cell {target}"), StringComparison.Ordinal);
                Assert.True(moved || already, string.Join('\n', log));
                return;
            }
            Assert.True(attempt < 20, "the move did not finish when run again:\n" + string.Join('\n', log));
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>
    /// Starts <c>bulwark cells move</c> and kills it -9 at its first copy line. A small partition can
    /// be moved before the kill lands; then the partition is moved back and the kill tried again.
    /// </summary>
    private async Task KillMoverMidMoveAsync(int partition, List<string> log)
    {
        var text = partition.ToString(CultureInfo.InvariantCulture);
        var targets = new[] { "c", "a" };
        for (var attempt = 0; attempt < MoverKillAttempts; attempt++)
        {
            var target = targets[attempt % 2];
            var source = targets[(attempt + 1) % 2];
            using var mover = Start("cells", "move", text, "--to", target, "--grace", "1", "--state", _state);
            var lines = new List<string>();
            await ReadUntilAsync(mover, lines, line => line.StartsWith("copy:", StringComparison.Ordinal));
            mover.Kill();
            await mover.WaitForExitAsync();
            log.Add($"mover killed after: {string.Join(" | ", lines)}");
            // Mid-move: a copy being made or verified, the partition paused, or the cells ahead of the map (status exits 1).
            var read = await RunAsync("cells", "status", "--json", "--state", _state);
            using var status = JsonDocument.Parse(read.Output);
            var midMove = read.ExitCode != 0 || status.RootElement.GetProperty("cells").EnumerateArray().Any(cell =>
                cell.GetProperty("importing").EnumerateArray().Any(import => import.GetProperty("partition").GetInt32() == partition) ||
                cell.GetProperty("paused").EnumerateArray().Any(paused => paused.GetProperty("partition").GetInt32() == partition));
            log.Add($"status after the kill: exit {read.ExitCode} {read.Output.Trim()}");
            await ResumeAsync(partition, target, source, log, mayBeDone: true);
            if (midMove)
            {
                return;
            }
        }
        Assert.Fail($"in {MoverKillAttempts} tries the mover always finished before it was killed:\n" + string.Join('\n', log));
    }

    private Action KillCell(string cell) => () =>
    {
        var pid = ClusterState.Load(_state)!.Instances.Single(instance => instance.Service == "ledger" && instance.Cell == cell).Pid;
        Process.GetProcessById(pid).Kill();
    };

    /// <summary>Payments from the payer to the payee, one after another, each retried with its own key until it gets an answer.</summary>
    private sealed class Payments(HttpClient http, string from, ClusterCustomer payee)
    {
        public int Acknowledged;

        /// <summary>Retriable answers (a cell restarting, a partition paused) that the payment was sent again after.</summary>
        public int Retries;

        public ConcurrentQueue<string> Failed { get; } = new();

        public async Task RunAsync(CancellationToken stop)
        {
            for (var index = 0; index < PaymentsMax && !stop.IsCancellationRequested; index++)
            {
                var key = Guid.NewGuid().ToString("n");
                using var bound = new CancellationTokenSource(PaymentBound);
                string? last = null;
                while (true)
                {
                    try
                    {
                        using var response = await ClusterCustomers.PayAsync(http, from, payee, Paid, key, bound.Token);
                        if (response.IsSuccessStatusCode)
                        {
                            Interlocked.Increment(ref Acknowledged);
                            break;
                        }
                        last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}";
                        if ((int)response.StatusCode < 500 && (int)response.StatusCode != 429)
                        {
                            // A definite refusal of a payment the payer could make: a failure, not a retry.
                            Failed.Enqueue($"{key}: {last}");
                            break;
                        }
                    }
                    catch (Exception error) when (error is HttpRequestException or TaskCanceledException && !bound.IsCancellationRequested)
                    {
                        last = error.Message;
                    }
                    catch (OperationCanceledException)
                    {
                        // Out of time below.
                    }
                    if (bound.IsCancellationRequested)
                    {
                        Failed.Enqueue($"{key}: no answer in {PaymentBound.TotalSeconds:0} s (last: {last})");
                        break;
                    }
                    Interlocked.Increment(ref Retries);
                    await Task.Delay(200, CancellationToken.None);
                }
                await Task.Delay(PaymentInterval, CancellationToken.None);
            }
        }
    }

    private sealed class Steps(Action<PartitionMoveReport> report) : IProgress<PartitionMoveReport>
    {
        public void Report(PartitionMoveReport value) => report(value);
    }

    [GeneratedRegex(@"edge \(app API and web UI\) listening on (http://127\.0\.0\.1:\d+/)")]
    private static partial Regex EdgeLine();
}
