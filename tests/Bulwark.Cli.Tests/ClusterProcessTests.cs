using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using static Bulwark.Cli.Tests.BulwarkProcess;
using static Bulwark.Cli.Tests.TestPorts;

namespace Bulwark.Cli.Tests;

/// <summary>
/// <c>bulwark cluster up|status|down</c>, <c>scale</c>, <c>deploy</c>, <c>rollback</c> and
/// <c>etcd add-member|remove-member</c> as real child processes against real etcd, plus every
/// bad input with its one clear line. One small cluster (one etcd member, one feed) keeps it short.
/// </summary>
[Collection(LocalClusterCollection.Name)]
public sealed class ClusterProcessTests : IDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), "bulwark-cluster-" + Guid.NewGuid().ToString("n"));
    private readonly string _otherState = Path.Combine(Path.GetTempPath(), "bulwark-cluster-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        // A second cluster on the first one's PostgreSQL stops first.
        if (File.Exists(Path.Combine(_otherState, "cluster.json")))
        {
            RunAsync("cluster", "down", "--state", _otherState).GetAwaiter().GetResult();
        }
        if (Directory.Exists(_otherState))
        {
            Directory.Delete(_otherState, recursive: true);
        }
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

    /// <summary>Checker status reads before app_read must have passed in both cells: a round every 5 s, far more than needed.</summary>
    private const int CoherenceStatusReadsMax = 120;

    /// <summary>
    /// The cluster's checker reads its writes back through the edge's app API (the address
    /// cluster up gives it) as synthetic customers, in both cells, and misses none.
    /// </summary>
    private async Task AppReadPassesInEveryCellAsync()
    {
        var output = "";
        for (var read = 0; read < CoherenceStatusReadsMax; read++)
        {
            var coherence = await RunAsync("coherence", "status", "--state", _state, "--json");
            output = coherence.Output + coherence.Error;
            if (coherence.ExitCode == 0)
            {
                using var json = JsonDocument.Parse(coherence.Output);
                var checks = json.RootElement.EnumerateArray().SelectMany(instance => instance.GetProperty("checks").EnumerateArray()).ToList();
                Assert.DoesNotContain(checks, check => check.GetProperty("result").GetString() == "missing" && check.GetProperty("total").GetInt64() > 0);
                if (new[] { "a", "b" }.All(cell => checks.Any(check => check.GetProperty("cell").GetString() == cell
                    && check.GetProperty("check").GetString() == "app_read" && check.GetProperty("result").GetString() == "ok" && check.GetProperty("total").GetInt64() > 0)))
                {
                    return;
                }
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
        Assert.Fail($"app_read did not pass in both cells after {CoherenceStatusReadsMax} status reads:\n{output}");
    }

    [Fact]
    public async Task ClusterLifecycle_UpStatusScaleDeployRollbackResizeDown()
    {
        var up = await RunAsync("cluster", "up", "--state", _state, "--etcd-members", "1", "--nats-servers", "0", "--replicas", "feed=1,cards=1,edge=1", "--edge-port", "0");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        Assert.Contains("edge (app API and web UI) listening on http://127.0.0.1:", up.Output, StringComparison.Ordinal);
        var pids = Pids();
        Assert.Equal(12, pids.Count); // etcd, the ledger's two cells, accounts, support, feed, config, cards, edge, staff-edge, coherence and the supervisor: detached, alive after up returned.
        Assert.All(pids, pid => Assert.True(IsAlive(pid), $"pid {pid} not running"));

        // Status probes every process with short deadlines: on a loaded machine one may miss a
        // probe right after up, so it is asked until it says all is well (bounded).
        var status = await RunAsync("cluster", "status", "--state", _state);
        for (var attempt = 0; attempt < 20 && status.ExitCode != 0; attempt++)
        {
            await Task.Delay(1000);
            status = await RunAsync("cluster", "status", "--state", _state);
        }
        Assert.True(status.ExitCode == 0, status.Output);
        foreach (var service in new[] { "ledger", "accounts", "support", "feed", "config", "cards", "edge", "staff-edge", "coherence" })
        {
            Assert.Matches($@"{service}-\d+ +v1 +\d+ +127\.0\.0\.1:\d+ +running +0 +(yes|n/a) +SERVING +fresh", status.Output);
        }
        Assert.Matches(@"supervisor: pid \d+ running, 0 restart\(s\) so far", status.Output);
        Assert.Matches(@"card link cards-\d+: 127\.0\.0\.1:\d+", status.Output);
        await AppReadPassesInEveryCellAsync();
        Assert.Single(File.ReadAllLines(Path.Combine(_state, "card-links")));

        var ledgerTwice = await RunAsync("scale", "ledger", "2", "--state", _state);
        Assert.Equal(2, ledgerTwice.ExitCode);
        Assert.Contains("bulwark scale: ledger keeps its data in SQLite, which one process writes: it runs 0 or 1 instance, got 2", ledgerTwice.Error, StringComparison.Ordinal);

        var scale = await RunAsync("scale", "feed", "2", "--state", _state);
        Assert.True(scale.ExitCode == 0, scale.Error);
        Assert.Equal(2, Instances("feed").Count);

        var deploy = await RunAsync("deploy", "feed", "--version", "v2", "--state", _state);
        Assert.True(deploy.ExitCode == 0, deploy.Error);
        Assert.Contains("feed: 2 instance(s) now run v2 (was v1).", deploy.Output, StringComparison.Ordinal);

        // A version that never becomes ready (test hook): the deploy rolls back by itself and says so.
        var bad = await RunAsync(new Dictionary<string, string> { ["BULWARK_TEST_NEVER_READY_VERSIONS"] = "v3" },
            "deploy", "feed", "--version", "v3", "--healthy-within", "3s", "--state", _state);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("not healthy within 3 s", bad.Error, StringComparison.Ordinal);
        Assert.Contains("rolled back to v2", bad.Error, StringComparison.Ordinal);
        Assert.All(Instances("feed"), version => Assert.Equal("v2", version));

        var rollback = await RunAsync("rollback", "feed", "--state", _state);
        Assert.True(rollback.ExitCode == 0, rollback.Error);
        Assert.All(Instances("feed"), version => Assert.Equal("v1", version));

        var toZero = await RunAsync("scale", "feed", "0", "--state", _state);
        Assert.True(toZero.ExitCode == 0, toZero.Error);
        Assert.Empty(Instances("feed"));
        Assert.Contains("feed       0 ", (await RunAsync("cluster", "status", "--state", _state)).Output, StringComparison.Ordinal);

        var added = await RunAsync(BulwarkProcess.MembershipBound, "etcd", "add-member", "--state", _state);
        Assert.True(added.ExitCode == 0, added.Error);
        Assert.Contains("2 members.", added.Output, StringComparison.Ordinal);
        var removed = await RunAsync(BulwarkProcess.MembershipBound, "etcd", "remove-member", "etcd1", "--state", _state);
        Assert.True(removed.ExitCode == 0, removed.Error);
        Assert.Contains("1 members.", removed.Output, StringComparison.Ordinal);
        Assert.Matches("etcd2 +http://127.0.0.1:\\d+ +pid \\d+ +healthy", (await RunAsync("cluster", "status", "--state", _state)).Output);

        var again = await RunAsync("cluster", "up", "--state", _state, "--edge-port", "0");
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("a cluster is already up in", again.Error, StringComparison.Ordinal);

        pids = Pids();
        var down = await RunAsync("cluster", "down", "--state", _state);
        Assert.True(down.ExitCode == 0, down.Error);
        Assert.StartsWith("supervisor (pid ", down.Output, StringComparison.Ordinal); // Stopped first: nothing is restarted on the way down.
        Assert.All(pids, pid => Assert.False(IsAlive(pid), $"pid {pid} still running after down"));
        var after = await RunAsync("cluster", "status", "--state", _state);
        Assert.Equal(2, after.ExitCode);
        Assert.Contains("no cluster in", after.Error, StringComparison.Ordinal);

        // The cluster keeps its ledger cells (the map kept in the state directory): another count is refused before anything starts.
        var otherCells = await RunAsync("cluster", "up", "--state", _state, "--cells", "3", "--edge-port", "0");
        Assert.Equal(2, otherCells.ExitCode);
        Assert.Contains("bulwark cluster up: this cluster already has 2 ledger cells (a, b); --cells 3 cannot change that. Leave --cells out.", otherCells.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_state, "cluster.json")), "a refused up started something");

        // Up again on the same state directory: a new etcd cluster (etcd2's old data must not join it).
        var upAgain = await RunAsync("cluster", "up", "--state", _state, "--etcd-members", "2", "--nats-servers", "0", "--replicas", "ledger=0,accounts=0,feed=0,cards=0,edge=0,staff-edge=0,support=0,coherence=0,config=0");
        Assert.True(upAgain.ExitCode == 0, upAgain.Output + upAgain.Error);
        Assert.Contains("etcd: 2 member(s) healthy", upAgain.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClusterOnItsOwnPostgres_AccountsRunTwice_DeployedWithoutStopping_LedgerStaysOne()
    {
        var up = await RunAsync("cluster", "up", "--state", _state, "--etcd-members", "1", "--nats-servers", "0", "--replicas", "accounts=2,feed=0,cards=0,edge=1",
            "--edge-port", "0", "--store", "postgres");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        Assert.Equal(2, Instances("accounts").Count);
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_state, "cluster.json")));
        var postgres = state.RootElement.GetProperty("postgres");
        var (port, pid) = (postgres.GetProperty("port").GetInt32(), postgres.GetProperty("pid").GetInt32());
        var status = await RunAsync("cluster", "status", "--state", _state);
        Assert.Contains($"store postgres://postgres@127.0.0.1:{port}/bulwark", status.Output, StringComparison.Ordinal);
        Assert.Contains($"postgres: 127.0.0.1:{port} pid {pid} running", status.Output, StringComparison.Ordinal);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(status.Output, @"accounts-\d+ +v1 .* running +\d+ +yes +SERVING").Count);

        // Two writers of one PostgreSQL database: the deploy surges, each new one beside an old one.
        var deploy = await RunAsync("deploy", "accounts", "--version", "v2", "--state", _state);
        Assert.True(deploy.ExitCode == 0, deploy.Error);
        Assert.Contains("accounts: 2 instance(s) now run v2 (was v1).", deploy.Output, StringComparison.Ordinal);
        var ledgerTwice = await RunAsync("scale", "ledger", "2", "--state", _state);
        Assert.Equal(2, ledgerTwice.ExitCode);
        Assert.Contains("ledger has one writer (fenced by epoch): it runs 0 or 1 instance, got 2.", ledgerTwice.Error, StringComparison.Ordinal);
        using (var connection = new Npgsql.NpgsqlConnection($"Host=127.0.0.1;Port={port};Username=postgres;Database=bulwark;Pooling=false"))
        {
            await connection.OpenAsync();
            await using var schemas = new Npgsql.NpgsqlCommand("SELECT count(*) FROM information_schema.schemata WHERE schema_name IN ('ledger', 'accounts', 'config', 'support')", connection);
            Assert.Equal(4L, await schemas.ExecuteScalarAsync());
        }

        await SecondClusterWithPassword_KeepsItOffCommandLinesAndStateFile(port);

        var down = await RunAsync("cluster", "down", "--state", _state);
        Assert.True(down.ExitCode == 0, down.Error);
        Assert.Contains($"postgres (pid {pid}): stopped", down.Output, StringComparison.Ordinal);
        Assert.False(IsAlive(pid));
        Assert.True(File.Exists(Path.Combine(_state, "data", "postgres", "PG_VERSION")), "the bank's data stays for the next up");
    }

    /// <summary>
    /// A cluster given a URL with a password (the first cluster's server trusts local connections,
    /// so the password is carried, not checked): it is in no command line and not in cluster.json,
    /// only in the 0600 store-url; the accounts (only them, on the shared database) come up without
    /// --store, so from BULWARK_STORE, and a later scale finds the password again.
    /// </summary>
    private async Task SecondClusterWithPassword_KeepsItOffCommandLinesAndStateFile(int port)
    {
        // Unique, so that nothing else on the machine (a path, another test) can contain it.
        var password = $"secret{Guid.NewGuid():n}";
        var url = $"postgres://postgres:{password}@127.0.0.1:{port}/bulwark";
        // The database's cards were tokenised with the first cluster's key: the accounts of this one need it too.
        var keys = Directory.CreateDirectory(Path.Combine(_otherState, "data", "accounts", "keys")).FullName;
        File.Copy(Path.Combine(_state, "data", "accounts", "keys", "tokenisation.key"), Path.Combine(keys, "tokenisation.key"));
        var up = await RunAsync("cluster", "up", "--state", _otherState, "--etcd-members", "1", "--nats-servers", "0", "--replicas", "ledger=0,support=0,feed=0,cards=0,edge=0,staff-edge=0,coherence=0,config=0",
            "--edge-port", "0", "--store", url);
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        Assert.DoesNotContain(password, up.Output + up.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(password, File.ReadAllText(Path.Combine(_otherState, "cluster.json")), StringComparison.Ordinal);
        var secretFile = Path.Combine(_otherState, "store-url");
        Assert.Equal(url, File.ReadAllText(secretFile));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secretFile));
        }

        var scale = await RunAsync("scale", "accounts", "2", "--state", _otherState);
        Assert.True(scale.ExitCode == 0, scale.Error);
        var pids = Pids(_otherState);
        Assert.Equal(4, pids.Count); // etcd, two accounts and the supervisor.
        foreach (var pid in pids)
        {
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            Assert.DoesNotContain(password, commandLine, StringComparison.Ordinal);
            Assert.DoesNotContain("--store", commandLine, StringComparison.Ordinal);
        }
        var status = await RunAsync("cluster", "status", "--state", _otherState);
        Assert.Contains($"store postgres://postgres:***@127.0.0.1:{port}/bulwark", status.Output, StringComparison.Ordinal);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(status.Output, @"accounts-\d+ +v1 .* running +\d+ +yes +SERVING").Count);
        // On PostgreSQL, read from BULWARK_STORE: no SQLite file of the accounts was created.
        Assert.False(File.Exists(Path.Combine(_otherState, "data", "accounts", "accounts.db")), "the accounts ignored BULWARK_STORE");

        // The password file gone: what would start an instance says where the password is looked
        // for, and takes it from BULWARK_STORE (keeping it again in the file).
        File.Move(secretFile, secretFile + ".aside");
        var lost = await RunAsync("scale", "accounts", "3", "--state", _otherState);
        Assert.Equal(2, lost.ExitCode);
        Assert.Contains($"bulwark scale: the password of postgres://postgres:***@127.0.0.1:{port}/bulwark is not in {secretFile}: set BULWARK_STORE to the full URL and retry.", lost.Error, StringComparison.Ordinal);
        File.Delete(secretFile + ".aside");
        var fromVariable = await RunAsync(new Dictionary<string, string> { ["BULWARK_STORE"] = url }, "scale", "accounts", "3", "--state", _otherState);
        Assert.True(fromVariable.ExitCode == 0, fromVariable.Error);
        Assert.Equal(url, File.ReadAllText(secretFile));

        var down = await RunAsync("cluster", "down", "--state", _otherState);
        Assert.True(down.ExitCode == 0, down.Error);
        Assert.False(File.Exists(secretFile), "down leaves the password behind");
    }

    [Theory]
    [InlineData("serve --service ledger --registry etcd://127.0.0.1:1 --data", "bulwark serve")]
    [InlineData("run --no-workload --data", "bulwark run")]
    [InlineData("cluster up --state", "bulwark cluster up")]
    [InlineData("backup --to /nonexistent/bulwark-backup --data", "bulwark backup")]
    public async Task StoreVariableNotAPostgresUrl_ExitsTwoNamingTheVariableNotThePassword(string arguments, string command)
    {
        var result = await RunAsync(new Dictionary<string, string> { ["BULWARK_STORE"] = "mysql://root:hunter2@localhost/bank" },
            [.. arguments.Split(' '), _state]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{command}: BULWARK_STORE: 'mysql://root:***@localhost/bank' is not a PostgreSQL URL", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cluster up --store mysql://root@localhost/bank", "--store:")]
    [InlineData("cluster up --replicas accounts=2", "accounts keeps its data in SQLite, which one process writes: it runs 0 or 1 instance, got 2 (accounts can run more with --store postgres://...).")]
    [InlineData("scale feed -1", "bulwark scale: replicas must be 0 or more, got -1 for feed.")]
    [InlineData("scale ledger-b -1", "bulwark scale: replicas must be 0 or more, got -1 for ledger-b.")]
    [InlineData("scale nope 1", "bulwark scale: unknown service 'nope'. Known services: ledger, accounts, support, feed, config, cards, edge, staff-edge, coherence.")]
    [InlineData("scale feed many", "bulwark scale: replicas must be a whole number, got 'many'.")]
    [InlineData("deploy nope --version v2", "bulwark deploy: unknown service 'nope'.")]
    [InlineData("deploy feed", "Option '--version' is required.")]
    [InlineData("rollback nope", "bulwark rollback: unknown service 'nope'.")]
    [InlineData("cluster up --replicas feed=-2", "bulwark cluster up: replicas must be 0 or more, got -2 for feed.")]
    [InlineData("cluster up --replicas feed", "bulwark cluster up: --replicas: 'feed' is not SERVICE=COUNT, as in feed=3,edge=2.")]
    [InlineData("cluster up --replicas nope=1", "bulwark cluster up: unknown service 'nope'.")]
    [InlineData("cluster up --etcd-members 0", "--etcd-members must be between 1 and 9, got 0.")]
    [InlineData("cluster up --nats-servers 6", "--nats-servers must be a whole number from 0 to 5, not '6'.")]
    [InlineData("cluster up --nats-servers -1", "--nats-servers must be a whole number from 0 to 5, not '-1'.")]
    [InlineData("cluster status", "bulwark cluster status: no cluster in")]
    [InlineData("scale feed 1", "bulwark scale: no cluster in")]
    [InlineData("etcd add-member", "bulwark etcd add-member: no cluster in")]
    public async Task BadInput_ExitsNonZeroWithOneClearLine(string arguments, string expected)
    {
        var result = await RunAsync([.. arguments.Split(' '), "--state", _state]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EtcdUnreachable_DeployNamesTheMembersTried_StatusSaysSo()
    {
        var port = FreePort();
        Directory.CreateDirectory(_state);
        await File.WriteAllTextAsync(Path.Combine(_state, "cluster.json"), $$"""
            {"etcdToken":"t","members":[{"name":"etcd1","clientPort":{{port}},"peerPort":{{FreePort()}},"pid":0}],
             "services":[{"name":"feed","replicas":1,"version":"v1"}],"instances":[]}
            """);

        var deploy = await RunAsync("deploy", "feed", "--version", "v2", "--state", _state);
        var status = await RunAsync("cluster", "status", "--state", _state);

        Assert.Equal(2, deploy.ExitCode);
        Assert.Contains($"bulwark deploy: etcd unreachable: Could not reach etcd within 10 s (tried http://127.0.0.1:{port}/", deploy.Error, StringComparison.Ordinal);
        Assert.Equal(1, status.ExitCode);
        Assert.Contains("NOT RUNNING", status.Output, StringComparison.Ordinal);
        Assert.Contains("etcd unreachable", status.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Up_PostgresUnreachable_NamesTheServerAndStopsWhatItStarted()
    {
        var port = FreePort();

        var up = await RunAsync("cluster", "up", "--state", _state, "--etcd-members", "1", "--edge-port", "0", "--store", $"postgres://bank@127.0.0.1:{port}/bank");

        Assert.Equal(2, up.ExitCode);
        Assert.Contains($"could not start (PostgreSQL 127.0.0.1:{port}/bank as bank)", up.Error, StringComparison.Ordinal);
        Assert.Contains("stopping what was started", up.Error, StringComparison.Ordinal);
        Assert.All(Pids(), pid => Assert.False(IsAlive(pid), $"pid {pid} still running"));
    }

    [Fact]
    public async Task Up_InterruptedWhileStarting_StopsWhatItStarted()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "bulwark.dll"), "cluster", "up", "--state", _state, "--etcd-members", "1", "--edge-port", "0" })
        {
            start.ArgumentList.Add(arg);
        }
        using var up = Process.Start(start)!;
        using var bound = new CancellationTokenSource(Bound);
        var error = up.StandardError.ReadToEndAsync(bound.Token);
        // SIGTERM once etcd is up, while the services start.
        while (await up.StandardOutput.ReadLineAsync(bound.Token) is { } line && !line.StartsWith("etcd: ", StringComparison.Ordinal))
        {
        }
        using (var term = Process.Start("kill", ["-TERM", up.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync(bound.Token);
        }
        _ = up.StandardOutput.ReadToEndAsync(bound.Token);
        await up.WaitForExitAsync(bound.Token);

        Assert.Equal(130, up.ExitCode);
        Assert.Contains("bulwark cluster up: interrupted; stopping what was started.", await error, StringComparison.Ordinal);
        Assert.All(Pids(), pid => Assert.False(IsAlive(pid), $"pid {pid} still running"));
    }

    [Fact]
    public async Task Up_EdgePortInUse_SaysSoBeforeStartingAnything()
    {
        using var occupied = new TcpListener(IPAddress.Loopback, 0);
        occupied.Start();
        var port = ((IPEndPoint)occupied.LocalEndpoint).Port;

        var up = await RunAsync("cluster", "up", "--state", _state, "--edge-port", port.ToString(CultureInfo.InvariantCulture));

        Assert.Equal(2, up.ExitCode);
        Assert.Contains($"port {port} is in use on 127.0.0.1", up.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_state, "cluster.json")));
    }

    [Fact]
    public async Task Up_EtcdNotOnPath_SaysHowToInstallIt()
    {
        // Only the directory of the dotnet host (links resolved: /usr/bin would bring etcd along).
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "dotnet")).First(File.Exists);
        var dotnet = Path.GetDirectoryName(new FileInfo(onPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? onPath)!;
        var result = await RunAsync(new Dictionary<string, string> { ["PATH"] = dotnet }, "cluster", "up", "--state", _state, "--edge-port", "0");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("etcd is not on PATH", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_state, "cluster.json")));
    }

    private List<int> Pids() => Pids(_state);

    private static List<int> Pids(string directory)
    {
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "cluster.json")));
        var supervisor = state.RootElement.TryGetProperty("supervisorPid", out var value) && value.GetInt32() != 0 ? [value.GetInt32()] : Array.Empty<int>();
        IEnumerable<JsonElement> nats = state.RootElement.TryGetProperty("natsServers", out var servers) ? servers.EnumerateArray() : [];
        return [.. state.RootElement.GetProperty("members").EnumerateArray().Concat(state.RootElement.GetProperty("instances").EnumerateArray()).Concat(nats)
            .Select(e => e.GetProperty("pid").GetInt32()).Concat(supervisor)];
    }

    private List<string> Instances(string service)
    {
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_state, "cluster.json")));
        return [.. state.RootElement.GetProperty("instances").EnumerateArray()
            .Where(e => e.GetProperty("service").GetString() == service)
            .Select(e => e.GetProperty("version").GetString()!)];
    }
}
