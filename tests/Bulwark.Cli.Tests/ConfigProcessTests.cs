using System.Diagnostics;
using System.Text.Json;
using static Bulwark.Cli.Tests.CustomersCommandTests;

namespace Bulwark.Cli.Tests;

/// <summary>
/// <c>bulwark config</c> against a real <c>bulwark run</c> bank (found through DATA/bank.json): the
/// bulwark binary for the commands that matter most (set, get, a bounded watch), the rest in this
/// process through the same command line.
/// </summary>
public sealed class ConfigProcessTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-config-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Config_OnARunBank_SetGetWatchHistoryDeleteCompactAndRefusals()
    {
        var data = new[] { "--data", _directory };
        var bank = await StartBankAsync(data);
        try
        {
            var set = await BulwarkProcess.RunAsync(["config", "set", "edge/allow", "[\"10.0.0.0/8\"]", "--reason", "open the office range", .. data]);
            Assert.True(set.ExitCode == 0, set.Output + set.Error);
            Assert.Contains("set edge/allow: now version 1 (was no value).", set.Output, StringComparison.Ordinal);
            Assert.Contains("no --expected-version given: read edge/allow first (never held)", set.Error, StringComparison.Ordinal);

            var get = await BulwarkProcess.RunAsync(["config", "get", "edge/allow", "--json", .. data]);
            Assert.True(get.ExitCode == 0, get.Output + get.Error);
            using (var json = JsonDocument.Parse(get.Output))
            {
                Assert.Equal("[\"10.0.0.0/8\"]", json.RootElement.GetProperty("value").GetString());
                Assert.Equal(1, json.RootElement.GetProperty("version").GetInt64());
                Assert.EndsWith(" (unverified)", json.RootElement.GetProperty("changedBy").GetString(), StringComparison.Ordinal);
                Assert.Equal("open the office range", json.RootElement.GetProperty("reason").GetString());
            }

            // A bounded watch from revision 1 sees the next change, then ends on its own.
            var watch = BulwarkProcess.RunAsync(["config", "watch", "edge/", "--from", "1", "--count", "1", "--timeout", "90s", .. data]);
            var changed = await InvokeAsync(["config", "set", "edge/allow", "[]", "--reason", "close it", "--expected-version", "1", .. data]);
            Assert.True(changed.ExitCode == 0, changed.Output + changed.Error);
            var watched = await watch;
            Assert.True(watched.ExitCode == 0, watched.Output + watched.Error);
            Assert.StartsWith("2 edge/allow = [] (at ", watched.Output, StringComparison.Ordinal);

            await AssertFailsAsync("current version is 2", ["config", "set", "edge/allow", "x", "--reason", "stale", "--expected-version", "1", .. data]);
            await AssertFailsAsync("key holds 'K'", ["config", "set", "Key", "x", "--reason", "bad key", .. data]);
            await AssertFailsAsync("never held key 'never/held'", ["config", "get", "never/held", .. data]);
            await AssertFailsAsync("--reason is required", ["config", "delete", "edge/allow", .. data]);
            var deleted = await InvokeAsync(["config", "delete", "edge/allow", "--reason", "retired", .. data]);
            Assert.True(deleted.ExitCode == 0, deleted.Output + deleted.Error);
            Assert.Contains("deleted edge/allow: a tombstone at version 3 (was version 2).", deleted.Output, StringComparison.Ordinal);
            var tombstone = await InvokeAsync(["config", "get", "edge/allow", .. data]);
            Assert.Equal(0, tombstone.ExitCode);
            Assert.Contains("value:    (deleted: a tombstone)", tombstone.Output, StringComparison.Ordinal);
            await AssertFailsAsync("already deleted", ["config", "delete", "edge/allow", "--reason", "again", "--expected-version", "3", .. data]);

            var history = await InvokeAsync(["config", "history", "edge/allow", .. data]);
            Assert.Equal(0, history.ExitCode);
            Assert.Contains("3 change(s); history is complete; no more pages.", history.Output, StringComparison.Ordinal);
            var compact = await InvokeAsync(["config", "compact", "--revision", "3", .. data]);
            Assert.True(compact.ExitCode == 0, compact.Output + compact.Error);
            Assert.Contains("compacted at revision 3: 2 change(s) removed.", compact.Output, StringComparison.Ordinal);

            // From a compacted revision the watch starts with a snapshot; the tombstone is in it.
            var resync = await InvokeAsync(["config", "watch", "--from", "1", "--count", "1", "--timeout", "60s", .. data]);
            Assert.True(resync.ExitCode == 0, resync.Output + resync.Error);
            Assert.Contains("snapshot at revision 3: 1 key(s)", resync.Output, StringComparison.Ordinal);
            Assert.Contains("edge/allow = (deleted) (version 3)", resync.Output, StringComparison.Ordinal);
            var quiet = await InvokeAsync(["config", "watch", "--from", "3", "--count", "1", "--timeout", "1s", .. data]);
            Assert.Equal(3, quiet.ExitCode);
            Assert.Contains("--timeout 1s passed with 0 of 1 event(s)", quiet.Error, StringComparison.Ordinal);
        }
        finally
        {
            await StopAsync(bank);
        }
    }

    /// <summary>A command in a process of its own, as the bank's demo staff member (<see cref="OperatorStaff"/>: its session goes in the process's environment).</summary>
    private static Task<(int ExitCode, string Output, string Error)> InvokeAsync(params string[] args) => BulwarkProcess.RunAsync(args);

    private static async Task AssertFailsAsync(string expected, string[] args)
    {
        var (exitCode, output, error) = await InvokeAsync(args);
        Assert.True(exitCode == 2, $"exit {exitCode} for {string.Join(' ', args)}: {output}{error}");
        Assert.Contains(expected, Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    private static async Task<Process> StartBankAsync(string[] data)
    {
        // The versions asserted are the store's revisions, which the coherence checker's own key
        // (coherence/synthetic, written every round) would move: its first round is an hour away.
        var process = BulwarkProcess.Start(new Dictionary<string, string> { ["BULWARK_COHERENCE_INTERVAL_SECONDS"] = "3600" },
            ["run", .. data, "--port", "0", "--no-workload", "--customers", "1"]);
        var lines = new List<string>();
        var errors = process.StandardError.ReadToEndAsync();
        await BulwarkProcess.ReadUntilAsync(process, lines, line => line.StartsWith("Running at", StringComparison.Ordinal), errors);
        // What follows must not fill the pipe (a full pipe blocks the bank's writes): read and dropped.
        _ = process.StandardOutput.ReadToEndAsync();
        return process;
    }

    private static async Task StopAsync(Process bank)
    {
        if (!bank.HasExited)
        {
            await BulwarkProcess.SignalAsync(bank.Id, "INT");
            using var bound = new CancellationTokenSource(BulwarkProcess.Bound);
            await bank.WaitForExitAsync(bound.Token);
        }
        bank.Dispose();
    }
}
