using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Bulwark.Cli.Demo;
using static Bulwark.Cli.Tests.CustomersCommandTests;

namespace Bulwark.Cli.Tests;

/// <summary>
/// <c>bulwark customers</c> against real banks: a <c>bulwark run</c> process (found through
/// DATA/bank.json) and a one-member <c>cluster up --customers 2</c> (found through etcd). The
/// commands run in this process except where standard input matters (<c>--password-stdin</c>).
/// </summary>
[Collection(LocalClusterCollection.Name)]
public sealed partial class CustomersProcessTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-customers-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        // Whatever happened, a cluster this test started is stopped by the PIDs in its state.
        if (File.Exists(Path.Combine(_directory, "cluster.json")))
        {
            RunAsync(null, "cluster", "down", "--state", _directory).GetAwaiter().GetResult();
        }
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Customers_OnARunBank_CreateListShowAndBadInputs()
    {
        using var bank = Start("run", "--data", _directory, "--port", "0", "--no-workload", "--customers", "3");
        try
        {
            var port = await WaitRunningAsync(bank);
            var data = new[] { "--data", _directory };

            var (code, output, error) = await RunAsync("customer-password\n", ["customers", "create", "--name", "Ada Lovelace", "--email", "ada@example.com", "--password-stdin", "--opening-balance", "250.00", "--json", .. data]);
            Assert.True(code == 0, output + error);
            using (var created = JsonDocument.Parse(output))
            {
                Assert.True(created.RootElement.GetProperty("canLogIn").GetBoolean());
                Assert.Equal(25_000, created.RootElement.GetProperty("openingBalance").GetInt64());
            }
            var withoutPassword = await InvokeAsync(["customers", "create", "--name", "Bob", "--email", "bob@example.com", .. data]);
            Assert.Equal(0, withoutPassword.ExitCode);
            Assert.Contains("no password: this customer cannot log in", withoutPassword.Output, StringComparison.Ordinal);
            using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") })
            {
                Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("api/login", new { email = "ada@example.com", password = "customer-password" })).StatusCode);
                Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync("api/login", new { email = "bob@example.com", password = "customer-password" })).StatusCode);
            }

            // Five customers in pages of two: 2, 2, 1, each cursor leading to the next.
            var emails = new List<string>();
            string? cursor = null;
            for (var pages = 0; pages < 3; pages++)
            {
                var page = await InvokeAsync(["customers", "list", "--limit", "2", "--json", .. data, .. cursor is null ? Array.Empty<string>() : ["--after", cursor]]);
                Assert.Equal(0, page.ExitCode);
                using var json = JsonDocument.Parse(page.Output);
                emails.AddRange(json.RootElement.GetProperty("customers").EnumerateArray().Select(c => c.GetProperty("email").GetString()!));
                cursor = json.RootElement.GetProperty("nextCursor").GetString();
            }
            Assert.Null(cursor);
            // Oldest first: the three seeded (concurrently, so in any order among themselves), then Ada, then Bob.
            Assert.Equal(["customer00001@bulwark.example", "customer00002@bulwark.example", "demo@bulwark.example"], emails.Take(3).Order(StringComparer.Ordinal));
            Assert.Equal(["ada@example.com", "bob@example.com"], emails.Skip(3));
            var table = await InvokeAsync(["customers", "list", .. data]);
            Assert.Contains("5 customer(s); no more pages.", table.Output, StringComparison.Ordinal);

            var ada = await InvokeAsync(["customers", "show", "ADA@example.com", "--json", .. data]);
            Assert.Equal(0, ada.ExitCode);
            using (var json = JsonDocument.Parse(ada.Output))
            {
                var balance = json.RootElement.GetProperty("accounts")[0].GetProperty("balance");
                Assert.Equal(25_000, balance.GetProperty("settled").GetInt64());
                Assert.Equal(25_000, balance.GetProperty("available").GetInt64());
            }
            var demo = await InvokeAsync(["customers", "show", "demo@bulwark.example", .. data]);
            Assert.Equal(0, demo.ExitCode);
            var demoPan = DemoSeeder.DemoPan(42, 0);
            Assert.Contains("**** " + demoPan[^4..], demo.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(demoPan, demo.Output, StringComparison.Ordinal);
            Assert.Matches(@"Current account +04-00-75 +\d{8} +GBP +[\d,]+\.\d\d", demo.Output);

            await AssertFailsAsync("There is no customer with this email.", ["customers", "show", "nobody@example.com", .. data]);
            await AssertFailsAsync($"There is no customer {Guid.Empty}.", ["customers", "show", Guid.Empty.ToString(), .. data]);
            await AssertFailsAsync("the customer id must be a UUID", ["customers", "show", "not-an-id", .. data]);
            await AssertFailsAsync("--email must look like name@example.com", ["customers", "create", "--name", "X", "--email", "not-an-email", .. data]);
            await AssertFailsAsync("A customer with this email already exists.", ["customers", "create", "--name", "X", "--email", "BOB@example.com", .. data]);
            await AssertFailsAsync("--after (a cursor a previous page printed) must be a UUID", ["customers", "list", "--after", "nonsense", .. data]);

            await StopAsync(bank);
            await AssertFailsAsync("no bank is running on", ["customers", "list", .. data]);
        }
        finally
        {
            if (!bank.HasExited)
            {
                bank.Kill();
            }
        }
    }

    /// <summary>
    /// <c>bulwark cells</c> against a real <c>bulwark run</c> bank taking its own card and payment
    /// workload: status, a partition moved while the workload runs, a cell added and the partitions
    /// rebalanced onto it, the bank stopped (its summary checks every cell), the ledger checked, the
    /// bank started again on the three cells.
    /// </summary>
    [Fact]
    public async Task Cells_OnARunBankUnderItsWorkload_StatusMoveAddRebalanceRestartAndBadInputs()
    {
        var data = new[] { "--data", _directory };
        using (var bank = Start("run", "--data", _directory, "--port", "0", "--customers", "4", "--rate", "60", "--card-rate", "30"))
        {
            var printed = new System.Text.StringBuilder();
            try
            {
                await WaitRunningAsync(bank, printed);
                var status = await InvokeAsync(["cells", "status", .. data]);
                Assert.True(status.ExitCode == 0, status.Output + status.Error);
                Assert.Matches(@"(?m)^a +128 +128  -$", status.Output);
                Assert.Matches(@"(?m)^b +128 +128  -$", status.Output);

                // Partition 5 is cell a's (the first cell takes the first range).
                var moved = await InvokeAsync(["cells", "move", "5", "--to", "b", "--grace", "1", .. data]);
                Assert.True(moved.ExitCode == 0, moved.Output + moved.Error);
                Assert.Contains("moved partition 5 from cell a to b at epoch 2", moved.Output, StringComparison.Ordinal);
                Assert.Contains("released: partition 5 a → b (paused", moved.Output, StringComparison.Ordinal);
                var after = await InvokeAsync(["cells", "status", "--json", .. data]);
                Assert.True(after.ExitCode == 0, after.Output + after.Error);
                using (var json = JsonDocument.Parse(after.Output))
                {
                    var cells = json.RootElement.GetProperty("cells").EnumerateArray().ToDictionary(cell => cell.GetProperty("cell").GetString()!, cell => cell.GetProperty("owned").GetInt32());
                    Assert.Equal(127, cells["a"]);
                    Assert.Equal(129, cells["b"]);
                    Assert.Equal(0, json.RootElement.GetProperty("attention").GetArrayLength());
                }
                var again = await InvokeAsync(["cells", "move", "5", "--to", "b", .. data]);
                Assert.True(again.ExitCode == 0, again.Output + again.Error);
                Assert.Contains("partition 5 is already at cell b (epoch 2); nothing to move.", again.Output, StringComparison.Ordinal);
                await AssertFailsAsync("There is no cell 'zz' in the placement map (cells: a, b)", ["cells", "move", "5", "--to", "zz", .. data]);
                await AssertFailsAsync("There is no partition 999: partitions are 0 to 255.", ["cells", "move", "999", "--to", "a", .. data]);
                await AssertFailsAsync("--to: 'Not_A_Cell' is not a cell name", ["cells", "move", "5", "--to", "Not_A_Cell", .. data]);

                // A third cell, added while the bank runs, and the partitions spread over the three.
                var added = await InvokeAsync(["cells", "add", "c", .. data]);
                Assert.True(added.ExitCode == 0, added.Output + added.Error);
                Assert.Contains("cell c is serving; it owns no partitions yet", added.Output, StringComparison.Ordinal);
                await AssertFailsAsync("--store: a one-process bank keeps each cell in DATA/ledger-NAME.db", ["cells", "add", "d", "--store", "postgres://x", .. data]);
                var rebalanced = await InvokeAsync(["cells", "rebalance", "--grace", "1", .. data]);
                Assert.True(rebalanced.ExitCode == 0, rebalanced.Output + rebalanced.Error);
                Assert.Contains("85 partitions to move (a → c: 41, b → c: 44).", rebalanced.Output, StringComparison.Ordinal);
                Assert.Contains("rebalanced: 85 partitions moved", rebalanced.Output, StringComparison.Ordinal);
                var balanced = await InvokeAsync(["cells", "rebalance", "--dry-run", .. data]);
                Assert.Contains("the 3 cells are balanced already; nothing to move.", balanced.Output, StringComparison.Ordinal);
                await StopAsync(bank);
                string tail;
                lock (printed)
                {
                    tail = string.Join('\n', printed.ToString().Split('\n').Where(line => !line.Contains("ops/s", StringComparison.Ordinal)).TakeLast(40));
                }
                // Correctness, not capacity: no payment failed and the ledger checks (a loaded test
                // machine may make the bank shed some load, which exits 1 without an error).
                Assert.True(bank.ExitCode is 0 or 1, $"exit {bank.ExitCode}:\n{tail}");
                Assert.Matches(@"Summary: .* ok, \d[\d,]* declined, 0 errors,", tail);
                Assert.Contains("Card journal: every decision is in the ledger", tail, StringComparison.Ordinal);
                Assert.Contains("ledger ok", tail, StringComparison.Ordinal);
            }
            finally
            {
                if (!bank.HasExited)
                {
                    bank.Kill();
                }
            }
        }
        var check = await RunAsync(null, ["ledger", "check", .. data]);
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.Contains("ledger ok", check.Output, StringComparison.Ordinal);
        // Cell c, added while the bank ran, published from the start (its own relay, not only
        // after a restart): each partition moved to it has its "moved" event from c in the log.
        var map = Bulwark.Platform.Placement.PlacementMapCodec.Decode(await File.ReadAllBytesAsync(Path.Combine(_directory, "placement.json")));
        var ofC = map.PartitionsOf("c").ToArray();
        Assert.Equal(85, ofC.Length);
        var movedToC = new HashSet<int>();
        await using (var log = Bulwark.EventLog.Files.FileEventLog.Open(new Bulwark.EventLog.Files.FileEventLogOptions { Directory = Path.Combine(_directory, "events") }))
        {
            await foreach (var record in Bulwark.EventLog.EventLogExtensions.ReadPartitionsAsync(log, ofC))
            {
                if (record.Cell == "c" && Bulwark.Ledger.Events.PartitionChange.Parser.ParseFrom(record.Payload.ToArray()).Moved is { FromCell.Length: > 0 })
                {
                    movedToC.Add(record.Partition);
                }
            }
        }
        Assert.Equal(ofC, movedToC.Order());
        using (var restarted = Start("run", "--data", _directory, "--port", "0", "--no-workload"))
        {
            try
            {
                await WaitRunningAsync(restarted);
                var status = await InvokeAsync(["cells", "status", .. data]);
                Assert.True(status.ExitCode == 0, status.Output + status.Error);
                Assert.Matches(@"(?m)^a +86 +86  -$", status.Output);
                Assert.Matches(@"(?m)^b +85 +85  -$", status.Output);
                Assert.Matches(@"(?m)^c +85 +85  -$", status.Output);
                await StopAsync(restarted);
            }
            finally
            {
                if (!restarted.HasExited)
                {
                    restarted.Kill();
                }
            }
        }
    }

    [Fact]
    public async Task Customers_OnAClusterUpWithCustomers_SeededAndReadThroughEtcd()
    {
        var up = await RunAsync(null, "cluster", "up", "--state", _directory, "--etcd-members", "1", "--nats-servers", "0", "--replicas", "feed=1", "--edge-port", "0", "--customers", "2");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        Assert.Contains("Demo login: demo@bulwark.example / bulwark-demo   (2 customers)", up.Output, StringComparison.Ordinal);

        var list = await InvokeAsync("customers", "list", "--state", _directory, "--json");
        Assert.True(list.ExitCode == 0, list.Error);
        using (var json = JsonDocument.Parse(list.Output))
        {
            Assert.Equal(2, json.RootElement.GetProperty("customers").GetArrayLength());
        }
        using (var state = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_directory, "cluster.json"))))
        {
            var registry = "etcd://" + string.Join(',', state.RootElement.GetProperty("members").EnumerateArray().Select(m => "127.0.0.1:" + m.GetProperty("clientPort").GetInt32().ToString(CultureInfo.InvariantCulture)));
            // etcd is not the way in for operator commands: the cluster's state names its operator gateway.
            var byRegistry = await InvokeAsync("customers", "show", "demo@bulwark.example", "--registry", registry);
            Assert.Equal(2, byRegistry.ExitCode);
            Assert.Contains("pass --state DIR", byRegistry.Error, StringComparison.Ordinal);
            var show = await InvokeAsync("customers", "show", "demo@bulwark.example", "--state", _directory);
            Assert.True(show.ExitCode == 0, show.Error);
            Assert.Contains("**** " + DemoSeeder.DemoPan(42, 0)[^4..], show.Output, StringComparison.Ordinal);
        }
    }

    private static async Task AssertFailsAsync(string expected, string[] args)
    {
        var (exitCode, output, error) = await InvokeAsync(args);
        Assert.True(exitCode == 2, $"exit {exitCode} for {string.Join(' ', args)}: {output}{error}");
        Assert.Contains(expected, Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    /// <summary>Waits for the bank to be seeded and running; returns the port of its app API.</summary>
    private static Task<int> WaitRunningAsync(Process bank) => WaitRunningAsync(bank, null);

    private static async Task CollectAsync(StreamReader reader, System.Text.StringBuilder into)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (into)
            {
                into.AppendLine(line);
            }
        }
    }

    /// <summary>As above; what the bank prints after "Running at" goes to <paramref name="rest"/> (else it is read and dropped).</summary>
    private static async Task<int> WaitRunningAsync(Process bank, System.Text.StringBuilder? rest)
    {
        using var bound = new CancellationTokenSource(Bound);
        var port = 0;
        var lines = new List<string>();
        while (await bank.StandardOutput.ReadLineAsync(bound.Token) is { } line)
        {
            lines.Add(line);
            if (RunningLine().Match(line) is { Success: true } match)
            {
                port = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            }
            if (line.StartsWith("Running at", StringComparison.Ordinal))
            {
                // The status lines and logs that follow must not fill the pipes (a full pipe blocks
                // the bank's writes, and the bank with them): read and drop them.
                if (rest is null)
                {
                    _ = bank.StandardOutput.ReadToEndAsync(CancellationToken.None);
                    _ = bank.StandardError.ReadToEndAsync(CancellationToken.None);
                }
                else
                {
                    _ = CollectAsync(bank.StandardOutput, rest);
                    _ = CollectAsync(bank.StandardError, rest);
                }
                return port;
            }
        }
        Assert.Fail("bulwark run ended early:\n" + string.Join('\n', lines) + await bank.StandardError.ReadToEndAsync(bound.Token));
        return 0;
    }

    private static async Task StopAsync(Process bank)
    {
        using (var interrupt = Process.Start("kill", ["-INT", bank.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await interrupt.WaitForExitAsync();
        }
        using var bound = new CancellationTokenSource(Bound);
        await bank.WaitForExitAsync(bound.Token);
    }

    private static Process Start(params string[] args)
    {
        // Through env --default-signal=INT: a test run started as a background job (as CI or a
        // shell's `&` may) ignores SIGINT, and children inherit that; the Ctrl-C these tests send
        // would then never reach the bank.
        var start = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "bulwark.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Operator commands act as the bank's demo staff member (OperatorStaff).
        foreach (var (name, value) in OperatorStaff.EnvironmentAsync(null, args).GetAwaiter().GetResult() ?? [])
        {
            start.Environment[name] = value;
        }
        return Process.Start(start) ?? throw new InvalidOperationException("could not start bulwark");
    }

    /// <summary>
    /// A command against a real bank, in a process of its own: operator commands act as the bank's
    /// demo staff member (<see cref="OperatorStaff"/>), whose session is given to the process in its
    /// environment, which an in-process run would share with every other test.
    /// </summary>
    private static Task<(int ExitCode, string Output, string Error)> InvokeAsync(params string[] args) => RunAsync(null, args);

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string? input, params string[] args)
    {
        using var process = Start(args);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }
        process.StandardInput.Close();
        using var bound = new CancellationTokenSource(Bound);
        var output = process.StandardOutput.ReadToEndAsync(bound.Token);
        var error = process.StandardError.ReadToEndAsync(bound.Token);
        await process.WaitForExitAsync(bound.Token);
        return (process.ExitCode, await output, await error);
    }

    [GeneratedRegex(@"^Bulwark is running: http://127\.0\.0\.1:(\d+)/")]
    private static partial Regex RunningLine();
}
