using System.Text.Json;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>
/// The recovery drill of docs/runbooks/ledger-replay.md with the real binary against a real
/// <c>bulwark run</c> bank: a cell's store is lost (deleted) or restored from an old backup;
/// <c>ledger replay</c> rebuilds it from the bank's event log, <c>ledger verify</c> finds no
/// difference, and the bank serves the cell again with the same balances.
/// </summary>
public sealed class LedgerReplayProcessTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-replay-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        foreach (var directory in new[] { _directory, _directory + "-scheme" })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private string CellB => Path.Combine(_directory, "ledger-b.db");

    private Task<(int ExitCode, string Output, string Error)> RunBankAsync(string duration) =>
        RunAsync("run", "--data", _directory, "--port", "0", "--customers", "6", "--rate", "40", "--card-rate", "10", "--for", duration);

    [Fact]
    public async Task Drill_CellStoreDeleted_ReplayRebuildsIt_VerifyFindsNoDifference_AndTheBankServesItAgain()
    {
        var first = await RunBankAsync("3s");
        Assert.True(first.ExitCode == 0, $"exit {first.ExitCode}: {first.Output}{first.Error}");
        var before = await BalancesAsync(CellB);
        foreach (var file in Directory.GetFiles(_directory, "ledger-b.db*"))
        {
            File.Delete(file);
        }

        var replay = await RunAsync("ledger", "replay", "--data", _directory, "--cell", "b", "--into", CellB);

        Assert.True(replay.ExitCode == 0, $"exit {replay.ExitCode}: {replay.Output}{replay.Error}");
        Assert.Contains("replayed cell 'b': 128 partitions", replay.Output, StringComparison.Ordinal);
        Assert.Contains("100.0%", replay.Error, StringComparison.Ordinal);
        Assert.Equal(before, await BalancesAsync(CellB));
        var again = await RunAsync("ledger", "replay", "--data", _directory, "--cell", "b", "--into", CellB);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("a replay writes only into an empty store", again.Error, StringComparison.Ordinal);
        var verify = await RunAsync("ledger", "verify", "--data", _directory, "--cell", "b", "--json");
        Assert.True(verify.ExitCode == 0, $"exit {verify.ExitCode}: {verify.Output}{verify.Error}");
        using (var json = JsonDocument.Parse(verify.Output))
        {
            Assert.True(json.RootElement.GetProperty("ok").GetBoolean());
            Assert.True(json.RootElement.GetProperty("comparisons")[0].GetProperty("transferRows").GetInt64() > 0);
        }

        var served = await RunBankAsync("3s");

        Assert.True(served.ExitCode == 0, $"exit {served.ExitCode}: {served.Output}{served.Error}");
        Assert.Contains("ledger ok", served.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("holds no ownership", served.Output + served.Error, StringComparison.Ordinal);
        var after = await BalancesAsync(CellB);
        Assert.NotEqual(before, after);
        foreach (var cell in new[] { "a", "b" })
        {
            var check = await RunAsync("ledger", "verify", "--data", _directory, "--cell", cell);
            Assert.True(check.ExitCode == 0, $"exit {check.ExitCode}: {check.Output}{check.Error}");
            Assert.Contains("no differences", check.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OneCellBank_StoreDeleted_TheStoreMadeAgainOwnsNothingAndSaysHowToRebuild_ThenReplayServesIt()
    {
        var cellA = Path.Combine(_directory, "ledger.db");
        var first = await RunAsync("run", "--data", _directory, "--port", "0", "--cells", "1", "--customers", "3", "--rate", "20", "--for", "2s");
        Assert.True(first.ExitCode == 0, $"exit {first.ExitCode}: {first.Output}{first.Error}");
        var before = await BalancesAsync(cellA);
        Assert.NotEmpty(before);
        foreach (var file in Directory.GetFiles(_directory, "ledger.db*"))
        {
            File.Delete(file);
        }

        // The first map (version 1) still stands: before birth records, the store made again took
        // every partition empty, and the bank answered its customers' accounts "not found".
        var lost = await RunAsync("run", "--data", _directory, "--port", "0", "--customers", "3", "--rate", "20", "--for", "2s");
        Assert.Contains($"cell a's ledger store {cellA} is gone, but the cell held data", lost.Error, StringComparison.Ordinal);
        Assert.Contains("its 256 partitions are refused", lost.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", lost.Output + lost.Error, StringComparison.Ordinal);
        Assert.Equal(0, OwnedPartitions(cellA));
        Assert.Empty(await BalancesAsync(cellA));

        // The runbook: the made-again store aside, a replay into its path.
        var aside = Path.Combine(_directory, "made-again");
        Directory.CreateDirectory(aside);
        foreach (var file in Directory.GetFiles(_directory, "ledger.db*"))
        {
            File.Move(file, Path.Combine(aside, Path.GetFileName(file)));
        }
        var replay = await RunAsync("ledger", "replay", "--data", _directory, "--cell", "a", "--into", cellA);
        Assert.True(replay.ExitCode == 0, $"exit {replay.ExitCode}: {replay.Output}{replay.Error}");
        Assert.Equal(256, OwnedPartitions(cellA));
        Assert.Equal(before, await BalancesAsync(cellA));

        var served = await RunAsync("run", "--data", _directory, "--port", "0", "--customers", "3", "--rate", "20", "--for", "2s");
        Assert.True(served.ExitCode == 0, $"exit {served.ExitCode}: {served.Output}{served.Error}");
        Assert.DoesNotContain("is gone", served.Error, StringComparison.Ordinal);
        Assert.Contains("ledger ok", served.Output, StringComparison.Ordinal);
    }

    private static long OwnedPartitions(string path)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = path, Mode = Microsoft.Data.Sqlite.SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM partition_owners";
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task Drill_CellRestoredFromAnOldBackup_VerifyListsWhatItLacks_AReplayedCopyHasNone()
    {
        var current = await RestoreCellBFromAnEarlierCopyAsync();

        var stale = await RunAsync("ledger", "verify", "--data", _directory, "--cell", "b");

        Assert.True(stale.ExitCode == 1, stale.Output + stale.Error);
        Assert.Contains("missing transfer", stale.Output, StringComparison.Ordinal);
        var copy = Path.Combine(_directory, "replayed-b.db");
        var replay = await RunAsync("ledger", "replay", "--data", _directory, "--cell", "b", "--into", copy);
        Assert.True(replay.ExitCode == 0, $"exit {replay.ExitCode}: {replay.Output}{replay.Error}");
        var both = await RunAsync("ledger", "verify", "--data", _directory, "--cell", "b", "--against", copy, "--json");
        Assert.Equal(1, both.ExitCode);
        using (var json = JsonDocument.Parse(both.Output))
        {
            var comparisons = json.RootElement.GetProperty("comparisons");
            Assert.False(comparisons[0].GetProperty("ok").GetBoolean());
            Assert.True(comparisons[1].GetProperty("ok").GetBoolean());
        }
        Assert.Equal(current, await BalancesAsync(copy));
    }

    [Fact]
    public async Task CellRestoredFromAnOldBackup_TheBankStartedOnIt_RefusesThePartitionsTheLogHoldsFurther()
    {
        await RestoreCellBFromAnEarlierCopyAsync();

        // The event log, outside the store, is the witness: the relay finds at start the partitions
        // whose history it holds further, and the cell refuses them instead of answering from the
        // old copy ("not found" for accounts that exist, old balances: the 2019 failure).
        var started = await RunAsync("run", "--data", _directory, "--port", "0", "--no-workload", "--for", "4s");

        Assert.Matches(@"Cell b's store is behind the event log for \d+ partition\(s\) it owns", started.Output + started.Error);
        Assert.DoesNotContain("Cell a's store is behind the event log", started.Output + started.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drill_FromARealJetStreamLogIntoPostgres_TheReplayedCopyVerifiesAgainstTheLog()
    {
        var first = await RunBankAsync("3s");
        Assert.True(first.ExitCode == 0, $"exit {first.ExitCode}: {first.Output}{first.Error}");
        using var nats = NatsProcess.Start();
        // The bank's log copied into a JetStream stream, as a cluster's relays publish it.
        var map = Bulwark.Platform.Placement.PlacementMapCodec.Decode(await File.ReadAllBytesAsync(Path.Combine(_directory, "placement.json")));
        await using (var file = Bulwark.EventLog.Files.FileEventLog.Open(new Bulwark.EventLog.Files.FileEventLogOptions { Directory = Path.Combine(_directory, "events") }))
        await using (var stream = await Bulwark.EventLog.JetStream.JetStreamEventLog.OpenAsync(new Bulwark.EventLog.JetStream.JetStreamEventLogOptions { Url = nats.Url, Bank = "bulwark" }))
        {
            for (var partition = 0; partition < map.PartitionCount; partition++)
            {
                var records = new List<Bulwark.EventLog.EventRecord>();
                await foreach (var record in file.ReadAsync(partition))
                {
                    records.Add(record);
                }
                if (records.Count > 0)
                {
                    await stream.AppendAsync(records);
                }
            }
        }
        var server = Bulwark.Lab.Postgres.TemporaryPostgresServer.Shared;
        var database = "replayed_" + Guid.NewGuid().ToString("n")[..10];
        server.CreateDatabase(database);
        var url = server.Url(database);

        var replay = await RunAsync("ledger", "replay", "--data", _directory, "--cell", "b", "--into", url, "--event-log", nats.Url);

        Assert.True(replay.ExitCode == 0, $"exit {replay.ExitCode}: {replay.Output}{replay.Error}");
        Assert.Contains("from the JetStream stream BULWARK_LEDGER_BULWARK", replay.Error, StringComparison.Ordinal);
        var verify = await RunAsync("ledger", "verify", "--data", _directory, "--cell", "b", "--event-log", nats.Url, "--against", url, "--json");
        Assert.True(verify.ExitCode == 0, $"exit {verify.ExitCode}: {verify.Output}{verify.Error}");
        using var json = JsonDocument.Parse(verify.Output);
        var comparisons = json.RootElement.GetProperty("comparisons");
        Assert.Equal(2, comparisons.GetArrayLength());
        Assert.All(comparisons.EnumerateArray(), comparison => Assert.True(comparison.GetProperty("ok").GetBoolean()));
        Assert.Equal(comparisons[0].GetProperty("transferRows").GetInt64(), comparisons[1].GetProperty("transferRows").GetInt64());
    }

    [Fact]
    public async Task Replay_EventLogUnreachable_ExitsTwoNamingIt_AndClaimsNothing()
    {
        Directory.CreateDirectory(_directory);
        var paths = new Bulwark.Cli.Hosting.BankPaths(_directory);
        var map = Bulwark.Platform.Placement.PlacementMap.CreateInitial(Guid.NewGuid().ToString("D"), Bulwark.Ledger.LedgerLimits.PartitionCountDefault, ["a", "b"]);
        await File.WriteAllBytesAsync(paths.Placement, Bulwark.Platform.Placement.PlacementMapCodec.Encode(map));
        var port = TestPorts.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);

        var replay = await RunAsync("ledger", "replay", "--data", _directory, "--cell", "b", "--into", CellB, "--event-log", $"nats://127.0.0.1:{port}");

        Assert.Equal(2, replay.ExitCode);
        Assert.Contains("bulwark ledger replay: the event log:", replay.Error, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", replay.Error, StringComparison.Ordinal);
        Assert.Contains("No partition was claimed", replay.Error, StringComparison.Ordinal);
        var record = Bulwark.Ledger.LedgerCellRecords.ReadSqlite(CellB);
        Assert.True(record is null || record.Ownership.All(row => row.State == Bulwark.Ledger.Cells.OwnershipState.None), "the replay claimed a partition");
    }

    /// <summary>Every account of a SQLite ledger with its four balances, by id.</summary>
    /// <summary>
    /// Runs the bank, copies cell b's stopped files as they are (the database and its write-ahead
    /// log: the "backup"), runs it again, then puts the copy back while the event log keeps the
    /// second run. Returns cell b's balances before the copy went back.
    /// </summary>
    private async Task<SortedDictionary<string, string>> RestoreCellBFromAnEarlierCopyAsync()
    {
        var first = await RunBankAsync("2s");
        Assert.True(first.ExitCode == 0, $"exit {first.ExitCode}: {first.Output}{first.Error}");
        var backup = Directory.CreateDirectory(Path.Combine(_directory, "old")).FullName;
        foreach (var file in Directory.GetFiles(_directory, "ledger-b.db*"))
        {
            File.Copy(file, Path.Combine(backup, Path.GetFileName(file)));
        }
        var second = await RunBankAsync("2s");
        Assert.True(second.ExitCode == 0, $"exit {second.ExitCode}: {second.Output}{second.Error}");
        var current = await BalancesAsync(CellB);
        foreach (var file in Directory.GetFiles(_directory, "ledger-b.db*"))
        {
            File.Delete(file);
        }
        foreach (var file in Directory.GetFiles(backup))
        {
            File.Copy(file, Path.Combine(_directory, Path.GetFileName(file)));
        }
        return current;
    }

    private static async Task<SortedDictionary<string, string>> BalancesAsync(string path)
    {
        var balances = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT hex(id), debits_pending, debits_posted, credits_pending, credits_posted FROM accounts";
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            balances[reader.GetString(0)] = $"{reader.GetInt64(1)}/{reader.GetInt64(2)}/{reader.GetInt64(3)}/{reader.GetInt64(4)}";
        }
        return balances;
    }

    /// <summary>A real nats-server with JetStream on a free loopback port, its store in a temporary directory; killed by its PID.</summary>
    private sealed class NatsProcess : IDisposable
    {
        private readonly System.Diagnostics.Process _process;
        private readonly string _directory;

        private NatsProcess(System.Diagnostics.Process process, string directory, int port)
        {
            _process = process;
            _directory = directory;
            Url = $"nats://127.0.0.1:{port}";
        }

        public string Url { get; }

        public static NatsProcess Start()
        {
            var directory = Path.Combine(Path.GetTempPath(), "bulwark-replay-nats-" + Guid.NewGuid().ToString("n"));
            Directory.CreateDirectory(directory);
            var port = TestPorts.FreePort();
            var log = Path.Combine(directory, "server.log");
            var start = new System.Diagnostics.ProcessStartInfo(Bulwark.Lab.Cluster.LocalNats.RequireBinary()) { UseShellExecute = false };
            foreach (var argument in (string[])["-js", "-a", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-sd", Path.Combine(directory, "store"), "-l", log])
            {
                start.ArgumentList.Add(argument);
            }
            var nats = new NatsProcess(System.Diagnostics.Process.Start(start)!, directory, port);
            var deadline = DateTime.UtcNow + Bound;
            while (!(File.Exists(log) && ReadShared(log).Contains("Server is ready", StringComparison.Ordinal)))
            {
                if (nats._process.HasExited || DateTime.UtcNow > deadline)
                {
                    nats.Dispose();
                    throw new InvalidOperationException("nats-server did not start: " + (File.Exists(log) ? ReadShared(log) : ""));
                }
                Thread.Sleep(50);
            }
            return nats;
        }

        private static string ReadShared(string path)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(TimeSpan.FromSeconds(30));
            }
            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }
}
