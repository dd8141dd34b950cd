using System.Text.Json;
using Bulwark.Bench;
using Bulwark.Cli.Commands;

namespace Bulwark.Cli.Tests;

/// <summary>
/// <c>bulwark bench ledger --event-log ... --rate ...</c>: its arguments, and one tiny run without
/// and with the relay publishing to a file log at a fixed offered load: both runs commit transfers,
/// the one with the log publishes every event it measured and reports its lag. No timing is asserted.
/// </summary>
public sealed class BenchLedgerEventLogCommandTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-bench-relay-" + Guid.NewGuid().ToString("n"));

    [Theory]
    [InlineData("kafka")]
    [InlineData("none,,file")]
    [InlineData("")]
    public void Parse_BadEventLogList_ReportsErrorNamingTheOption(string value)
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "ledger", "--event-log", value]);

        Assert.Contains(result.Errors, error => error.Message.Contains("--event-log", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_EventLogWithCells_ReportsError()
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "ledger", "--cells", "2", "--event-log", "none,file"]);

        Assert.Contains(result.Errors, error => error.Message.Contains("--event-log runs with one engine", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_RateZero_ReportsError()
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "ledger", "--rate", "0"]);

        Assert.Contains(result.Errors, error => error.Message.Contains("--rate", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_EventLogList_KeptInOrder()
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "ledger", "--rate", "500", "--event-log", "none,file,nats,none"]);

        Assert.Empty(result.Errors);
        Assert.Equal(["none", "file", "nats", "none"], result.GetValue<IReadOnlyList<string>?>("--event-log"));
        Assert.Equal(500, result.GetValue<int>("--rate"));
    }

    [Fact]
    public async Task Run_NoneThenFile_AtOfferedRate_PublishesAndReportsLag()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var options = new LedgerBenchmarkOptions
        {
            Accounts = 200,
            Clients = 2,
            BatchSize = 5,
            OfferedTransfersPerSecond = 200,
            Duration = TimeSpan.FromSeconds(1),
            Warmup = TimeSpan.FromMilliseconds(200),
            DataDirectory = Path.Combine(_directory, "data"),
        };
        var console = new StringWriter();
        const string command = "bulwark bench ledger --rate 200 --event-log none,file";

        var exit = await BenchCommand.RunEventLogsAsync(options, ["none", "file"], command, new DirectoryInfo(_directory), "relay", console, timeout.Token);

        Assert.True(exit == 0, console.ToString());
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_directory, "relay.json"), timeout.Token));
        Assert.Equal(command, json.RootElement.GetProperty("command").GetString());
        Assert.True(json.RootElement.TryGetProperty("load_average_before", out _));
        var runs = json.RootElement.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(["none", "file"], runs.Select(run => run.GetProperty("event_log").GetString()));
        Assert.All(runs, run =>
        {
            Assert.True(run.GetProperty("transfers_committed").GetInt64() > 0);
            Assert.Equal(200, run.GetProperty("offered_transfers_per_second").GetInt32());
            Assert.True(run.TryGetProperty("cpu_microseconds_per_transfer", out _));
        });
        var withLog = runs[1];
        Assert.True(withLog.GetProperty("events_lag_measured").GetInt64() > 0);
        Assert.True(withLog.GetProperty("events_published").GetInt64() >= withLog.GetProperty("events_lag_measured").GetInt64());
        Assert.True(withLog.GetProperty("lag_p99_milliseconds").GetDouble() >= 0);
        Assert.Equal(JsonValueKind.Number, withLog.GetProperty("relay_catch_up_seconds").ValueKind);
        var markdown = await File.ReadAllTextAsync(Path.Combine(_directory, "relay.md"), timeout.Token);
        Assert.Contains("## With and without the event log", markdown, StringComparison.Ordinal);
        Assert.Contains("| file | 200 |", markdown, StringComparison.Ordinal);
        Assert.Contains($"Command: `{command}`", markdown, StringComparison.Ordinal);
        // The bench's own directories (the database and the file log) are gone after the run.
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(_directory, "data"), "bulwark-bench-events-*"));
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
