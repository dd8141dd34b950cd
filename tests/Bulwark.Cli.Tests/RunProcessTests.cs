using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using static Bulwark.Cli.Tests.TestPorts;

namespace Bulwark.Cli.Tests;

/// <summary>
/// <c>bulwark run</c> as a real child process: what a newcomer types, stopped the way they stop it.
/// </summary>
public sealed class RunProcessTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-run-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        // The bank's data directory and, beside it, the scheme simulator's (BankPaths.SchemeDirectory).
        foreach (var directory in new[] { _directory, _directory + "-scheme" })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Run_CtrlC_StopsCleanlyWithSummaryAndLedgerCheck()
    {
        // --port 0: a free port, and the URL printed names the one bound.
        using var bank = Start("run", "--data", _directory, "--port", "0", "--customers", "5", "--rate", "50");
        // Drained while the test reads stdout: a full stderr pipe would block the bank's logging, and the bank with it.
        var errors = bank.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        try
        {
            await ReadUntilAsync(bank, lines, line => line.StartsWith("Running at", StringComparison.Ordinal), errors);
            await Task.Delay(TimeSpan.FromSeconds(1));
            using (var interrupt = Process.Start("kill", ["-INT", bank.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await interrupt.WaitForExitAsync();
            }
            await ReadUntilAsync(bank, lines, line => line.StartsWith("ledger ", StringComparison.Ordinal), errors);
            using var exited = new CancellationTokenSource(Bound);
            await bank.WaitForExitAsync(exited.Token);
        }
        finally
        {
            if (!bank.HasExited)
            {
                bank.Kill();
            }
        }

        var output = string.Join('\n', lines);
        Assert.True(bank.ExitCode == 0, output);
        Assert.Contains(lines, line => line.StartsWith("Demo login: demo@bulwark.example / bulwark-demo", StringComparison.Ordinal));
        Assert.Contains(lines, line => System.Text.RegularExpressions.Regex.IsMatch(line, @"^Bulwark is running: http://127\.0\.0\.1:[1-9][0-9]*/ "));
        Assert.Contains(lines, line => line.StartsWith("Summary:", StringComparison.Ordinal) && line.Contains(" 0 errors", StringComparison.Ordinal));
        // The demo's 12 accounts, and the coherence checker's synthetic ones once its first round has run.
        Assert.Matches(@"^ledger ok: \d+ accounts, \d+ transfers, sum 0; 2 cells, \d+ credit legs in flight between them$", lines[^1]);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Run_FreshDataDirectory_EverythingItCreatesIsPrivate()
    {
        using var bank = Start("run", "--data", _directory, "--port", "0", "--customers", "5", "--rate", "50");
        var lines = new List<string>();
        List<(string Path, UnixFileMode Mode)> entries;
        try
        {
            await ReadUntilAsync(bank, lines, line => line.StartsWith("Running at", StringComparison.Ordinal));
            await Task.Delay(TimeSpan.FromSeconds(1));
            // Read while the bank runs: the databases' -wal and -shm files exist only then.
            entries = [.. Directory.EnumerateFileSystemEntries(_directory, "*", SearchOption.AllDirectories)
                .Select(path => (path, File.GetUnixFileMode(path)))];
            entries.Add((_directory, File.GetUnixFileMode(_directory)));
        }
        finally
        {
            bank.Kill(entireProcessTree: true);
            await bank.WaitForExitAsync();
        }

        Assert.Contains(entries, entry => entry.Path.EndsWith("ledger.db-wal", StringComparison.Ordinal));
        Assert.Contains(entries, entry => entry.Path.EndsWith(Path.Combine("keys", "tokenisation.key"), StringComparison.Ordinal));
        foreach (var (path, mode) in entries)
        {
            var expected = Directory.Exists(path) ? Bulwark.Platform.Security.PrivateFiles.DirectoryMode : Bulwark.Platform.Security.PrivateFiles.FileMode;
            Assert.True(mode == expected, $"{path} has mode {Convert.ToString((int)mode, 8)}, expected {Convert.ToString((int)expected, 8)}");
        }
    }

    [Theory]
    [InlineData("tokenisation.key", "644")]
    [InlineData("transfer-id.key", "640")]
    [InlineData("edge-signing.key", "606")]
    [InlineData("totp.key", "604")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Run_KeyFileOthersCanReadOrWrite_ExitsTwoSayingChmod600(string keyFile, string mode)
    {
        // A bank started once has all four keys; then one of them is opened up to others.
        using (var first = Start("run", "--data", _directory, "--port", "0", "--customers", "1", "--no-workload", "--for", "1s"))
        {
            using var bound = new CancellationTokenSource(Bound);
            await first.StandardOutput.ReadToEndAsync(bound.Token);
            await first.WaitForExitAsync(bound.Token);
            Assert.Equal(0, first.ExitCode);
        }
        var key = Path.Combine(_directory, "keys", keyFile);
        var before = await File.ReadAllBytesAsync(key);
        File.SetUnixFileMode(key, (UnixFileMode)Convert.ToInt32(mode, 8));

        using var bank = Start("run", "--data", _directory, "--port", "0", "--no-workload", "--for", "1s");
        using var exited = new CancellationTokenSource(Bound);
        var output = await bank.StandardOutput.ReadToEndAsync(exited.Token);
        var error = await bank.StandardError.ReadToEndAsync(exited.Token);
        await bank.WaitForExitAsync(exited.Token);

        Assert.True(bank.ExitCode == 2, output + error);
        Assert.Contains($"chmod 600 {key}", error, StringComparison.Ordinal);
        Assert.Contains($"has mode 0{mode}", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(key));
    }

    [Fact]
    public async Task Run_PortTaken_ExitsTwoNamingThePort()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var bank = Start("run", "--data", _directory, "--port", port, "--customers", "1");
        using var exited = new CancellationTokenSource(Bound);
        var error = await bank.StandardError.ReadToEndAsync(exited.Token);
        await bank.WaitForExitAsync(exited.Token);

        Assert.Equal(2, bank.ExitCode);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", error, StringComparison.Ordinal);
        Assert.Contains("--port", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_LedgerFileIsNotADatabase_ExitsTwoWithOneLineAndLeavesTheFile()
    {
        Directory.CreateDirectory(_directory);
        var ledger = Path.Combine(_directory, "ledger.db");
        await File.WriteAllTextAsync(ledger, "these are not the pages you are looking for, nor a SQLite header");

        using var bank = Start("run", "--data", _directory, "--port", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), "--customers", "1");
        using var exited = new CancellationTokenSource(Bound);
        var error = await bank.StandardError.ReadToEndAsync(exited.Token);
        await bank.WaitForExitAsync(exited.Token);

        Assert.Equal(2, bank.ExitCode);
        Assert.StartsWith("bulwark run: the bank could not start:", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.StartsWith("these are not the pages", await File.ReadAllTextAsync(ledger), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_SecondStart_VariesTheWorkloadSequence()
    {
        // Payments only are compared: who paid whom, how much, with which reference. A second start
        // with the same --seed replaying the first start's sequence looks like duplicates in the feed.
        string[] args = ["run", "--data", _directory, "--port", "0", "--customers", "4", "--rate", "40", "--card-rate", "0", "--for", "3s"];
        var first = await RunToEndAsync(args);
        Assert.True(first.ExitCode == 0, first.Output);
        var firstPayments = await PaymentsAsync(after: null);
        var second = await RunToEndAsync(args);
        Assert.True(second.ExitCode == 0, second.Output);
        var secondPayments = await PaymentsAsync(after: firstPayments.GroupBy(payment => payment.Cell).ToDictionary(cell => cell.Key, cell => cell.Max(payment => payment.Sequence)));

        Assert.True(firstPayments.Count >= 10 && secondPayments.Count >= 10,
            $"{firstPayments.Count} and {secondPayments.Count} payments\nfirst run:\n{first.Output}\nsecond run:\n{second.Output}");
        var firstShapes = firstPayments.Select(payment => payment.Shape).ToHashSet(StringComparer.Ordinal);
        var repeated = secondPayments.Take(20).Count(payment => firstShapes.Contains(payment.Shape));
        Assert.True(repeated <= 2, $"{repeated} of the second start's first 20 payments repeat the first start's (payer, payee, amount, reference)");
    }

    [Fact]
    public async Task Run_NewBank_RunsOnTwoCells_AndAnExistingBankKeepsTheCellsItHas()
    {
        var first = await RunToEndAsync("run", "--data", _directory, "--port", "0", "--customers", "6", "--rate", "40", "--card-rate", "10", "--for", "3s");

        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("; 2 cells, ", first.Output, StringComparison.Ordinal);
        var map = Bulwark.Platform.Placement.PlacementMapCodec.Decode(await File.ReadAllBytesAsync(Path.Combine(_directory, "placement.json")));
        Assert.Equal(["a", "b"], map.Cells.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(map.PartitionCount / 2, map.PartitionsOf("b").Count);
        // Both cells hold money: the customers' accounts are spread over their partitions.
        foreach (var cell in new[] { "ledger.db", "ledger-b.db" })
        {
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, cell)};Mode=ReadOnly;Pooling=False");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM transfers";
            Assert.True((long)(await command.ExecuteScalarAsync())! > 0, $"{cell} holds no transfers");
        }

        var again = await RunToEndAsync("run", "--data", _directory, "--port", "0", "--cells", "3", "--for", "1s");
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already has 2 cells (a, b); --cells 3 cannot change that", again.Output, StringComparison.Ordinal);
        var check = await RunToEndAsync("ledger", "check", "--data", _directory);
        Assert.True(check.ExitCode == 0, check.Output);
        Assert.Contains("sum 0; 2 cells", check.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// R13: <c>bulwark run</c> publishes every cell's committed changes to the file event log in
    /// DATA/events; after a workload and a clean stop, every transfer of both cells is there once.
    /// </summary>
    [Fact]
    public async Task Run_Workload_EveryTransferOfEveryCellIsInTheEventLog()
    {
        var run = await RunToEndAsync("run", "--data", _directory, "--port", "0", "--customers", "6", "--rate", "40", "--card-rate", "10", "--for", "3s");
        Assert.True(run.ExitCode == 0, run.Output);

        var stored = new HashSet<string>(StringComparer.Ordinal);
        foreach (var cell in new[] { "ledger.db", "ledger-b.db" })
        {
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, cell)};Mode=ReadOnly;Pooling=False");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT hex(id), leg FROM transfers";
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                stored.Add($"{reader.GetString(0).ToLowerInvariant()}/{reader.GetInt64(1)}");
            }
        }
        var map = Bulwark.Platform.Placement.PlacementMapCodec.Decode(await File.ReadAllBytesAsync(Path.Combine(_directory, "placement.json")));
        var logged = new List<string>();
        await using (var log = Bulwark.EventLog.Files.FileEventLog.Open(new Bulwark.EventLog.Files.FileEventLogOptions { Directory = Path.Combine(_directory, "events") }))
        {
            await foreach (var record in Bulwark.EventLog.EventLogExtensions.ReadPartitionsAsync(log, Enumerable.Range(0, map.PartitionCount)))
            {
                var change = Bulwark.Ledger.Events.PartitionChange.Parser.ParseFrom(record.Payload.ToArray());
                logged.AddRange(change.TransfersWritten.Select(row => $"{row.Id.High:x16}{row.Id.Low:x16}/{(int)row.Leg}"));
            }
        }

        Assert.NotEmpty(stored);
        Assert.Equal(logged.Count, logged.Distinct(StringComparer.Ordinal).Count());
        Assert.True(stored.SetEquals(logged), $"{stored.Count} rows stored, {logged.Count} in the event log");
    }

    /// <summary>
    /// R9 for a lost store: a cell's store deleted after the bank ran is made again owning NOTHING
    /// (never the map's partitions at epoch 1 with none of their data), so its partitions are
    /// refused and the next start names them, instead of answering "not found" for every account.
    /// </summary>
    [Fact]
    public async Task Run_CellStoreLost_TheNewStoreOwnsNothing_AndTheNextStartNamesItsPartitions()
    {
        var first = await RunToEndAsync("run", "--data", _directory, "--port", "0", "--customers", "4", "--rate", "20", "--card-rate", "0", "--for", "2s");
        Assert.True(first.ExitCode == 0, first.Output);
        foreach (var file in Directory.GetFiles(_directory, "ledger-b.db*"))
        {
            File.Delete(file);
        }

        await RunToEndAsync("run", "--data", _directory, "--port", "0", "--rate", "1", "--card-rate", "0", "--for", "1s");

        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, "ledger-b.db")};Mode=ReadOnly;Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM partition_owners WHERE state IN (1, 2)";
            Assert.Equal(0L, (long)(await command.ExecuteScalarAsync())!);
        }
        var again = await RunToEndAsync("run", "--data", _directory, "--port", "0", "--rate", "1", "--card-rate", "0", "--for", "1s");
        Assert.Contains("which holds no ownership of it", again.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_BankFromBeforeCells_IsOneCellAndRefusesMore()
    {
        Directory.CreateDirectory(_directory);
        // A ledger made before cells: a store that is no cell's yet, and no placement map.
        using (var store = new Bulwark.Ledger.Storage.SqliteLedgerStore(Path.Combine(_directory, "ledger.db")))
        {
            store.Open(Bulwark.Ledger.LedgerLimits.PartitionCountDefault);
        }

        var refused = await RunToEndAsync("run", "--data", _directory, "--port", "0", "--cells", "2", "--for", "1s");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("was made before cells: it is one cell", refused.Output, StringComparison.Ordinal);

        var run = await RunToEndAsync("run", "--data", _directory, "--port", "0", "--customers", "3", "--rate", "20", "--card-rate", "0", "--for", "2s");
        Assert.True(run.ExitCode == 0, run.Output);
        var map = Bulwark.Platform.Placement.PlacementMapCodec.Decode(await File.ReadAllBytesAsync(Path.Combine(_directory, "placement.json")));
        Assert.Equal(["a"], map.Cells.Keys);
        Assert.False(File.Exists(Path.Combine(_directory, "ledger-b.db")));
    }

    [Fact]
    public async Task Run_PlacementMapOlderThanACell_ExitsTwoNamingThePartitionAndEpochsAndChangesNothing()
    {
        Directory.CreateDirectory(_directory);
        var paths = new Bulwark.Cli.Hosting.BankPaths(_directory);
        var map = Bulwark.Platform.Placement.PlacementMap.CreateInitial(Guid.NewGuid().ToString("D"), Bulwark.Ledger.LedgerLimits.PartitionCountDefault, ["a", "b"]);
        await File.WriteAllBytesAsync(paths.Placement, Bulwark.Platform.Placement.PlacementMapCodec.Encode(map));
        foreach (var cell in map.Cells.Keys)
        {
            using var store = new Bulwark.Ledger.Storage.SqliteLedgerStore(paths.LedgerCell(cell));
            store.Open(map.PartitionCount);
            store.InitialiseCell(cell, map.ClusterId, map.PartitionsOf(cell));
        }
        // Cell a has owned partition 5 at epoch 3 (it moved away and came back); this map is from before.
        using (var store = new Bulwark.Ledger.Storage.SqliteLedgerStore(paths.Ledger))
        {
            store.Open(map.PartitionCount);
            store.SaveMoveStep(new Bulwark.Ledger.Storage.MoveStep { Owner = new Bulwark.Ledger.Cells.PartitionOwnership(5, 3, Bulwark.Ledger.Cells.OwnershipState.Owned, "", 0) });
        }
        var mapBefore = await File.ReadAllBytesAsync(paths.Placement);

        var run = await RunToEndAsync("run", "--data", _directory, "--port", "0", "--customers", "1", "--for", "1s");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("bulwark run: the placement map", run.Output, StringComparison.Ordinal);
        Assert.Contains("refusing to start", run.Output, StringComparison.Ordinal);
        Assert.Contains("partition 5: the placement map gives it to cell a at epoch 1, but cell a has recorded epoch 3", run.Output, StringComparison.Ordinal);
        Assert.Equal(mapBefore, await File.ReadAllBytesAsync(paths.Placement));
        Assert.False(File.Exists(paths.Accounts), "the bank started");
    }

    private sealed record Payment(string Cell, long Sequence, string Shape);

    /// <summary>The payments in every cell's store (each counts sequences of its own), after <paramref name="after"/>'s sequence per cell.</summary>
    private async Task<List<Payment>> PaymentsAsync(Dictionary<string, long>? after)
    {
        var payments = new List<Payment>();
        foreach (var cell in Directory.GetFiles(_directory, "ledger*.db"))
        {
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={cell};Mode=ReadOnly;Pooling=False");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT sequence, hex(debit_account_id) || ' ' || hex(credit_account_id) || ' ' || amount || ' ' || coalesce(metadata, '') FROM transfers WHERE code = 3 AND leg <= 1 AND sequence > $after ORDER BY sequence";
            command.Parameters.AddWithValue("$after", after?.GetValueOrDefault(cell) ?? 0);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                payments.Add(new Payment(cell, reader.GetInt64(0), reader.GetString(1)));
            }
        }
        return payments;
    }

    private static async Task<(int ExitCode, string Output)> RunToEndAsync(params string[] args)
    {
        using var bank = Start(args);
        using var bound = new CancellationTokenSource(Bound);
        try
        {
            var output = bank.StandardOutput.ReadToEndAsync(bound.Token);
            var error = bank.StandardError.ReadToEndAsync(bound.Token);
            await bank.WaitForExitAsync(bound.Token);
            return (bank.ExitCode, await output + "\n" + await error);
        }
        finally
        {
            if (!bank.HasExited)
            {
                bank.Kill();
            }
        }
    }

    private static Process Start(params string[] args)
    {
        var bulwark = Path.Combine(AppContext.BaseDirectory, "bulwark.dll");
        // Through env --default-signal=INT: a test run started as a background job (as CI or a
        // shell's `&` may) ignores SIGINT, and children inherit that; the Ctrl-C these tests send
        // would then never reach the bank.
        var start = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(bulwark);
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

    private static async Task ReadUntilAsync(Process process, List<string> lines, Func<string, bool> done, Task<string>? errors = null)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (await process.StandardOutput.ReadLineAsync(bound.Token) is { } line)
        {
            lines.Add(line);
            if (done(line))
            {
                return;
            }
        }
        Assert.Fail("bulwark ended its output early:\n" + string.Join('\n', lines) + "\n" + await (errors ?? process.StandardError.ReadToEndAsync(bound.Token)));
    }
}
