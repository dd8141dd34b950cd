using System.Text.Json;
using Bulwark.Bench;
using Bulwark.Cli.Commands;

namespace Bulwark.Cli.Tests;

/// <summary>
/// <c>bulwark bench ledger --cells</c>: its arguments, and one tiny run on two cells with half the
/// transfers between cells, through the router: it commits transfers, reaches the cross-cell share
/// it was asked for, conserves the money and writes every figure. No timing is asserted.
/// </summary>
public sealed class BenchLedgerCellsCommandTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-bench-cells-" + Guid.NewGuid().ToString("n"));

    [Theory]
    [InlineData("--cells", "0")]
    [InlineData("--cells", "17")]
    [InlineData("--cells", "two")]
    [InlineData("--cells", "1,,2")]
    [InlineData("--cross-cell", "101")]
    [InlineData("--cross-cell", "-5")]
    public void Parse_BadList_ReportsErrorNamingTheOption(string option, string value)
    {
        string[] cells = option == "--cells" ? [] : ["--cells", "2"];
        var result = BulwarkCommandLine.Create().Parse(["bench", "ledger", .. cells, option, value]);

        Assert.Contains(result.Errors, error => error.Message.Contains(option, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_CrossCellWithoutCells_ReportsError()
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "ledger", "--cross-cell", "10"]);

        Assert.Contains(result.Errors, error => error.Message.Contains("--cross-cell needs --cells", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_CrossCellOnOneCell_ReportsError()
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "ledger", "--cells", "1", "--cross-cell", "10"]);

        Assert.Contains(result.Errors, error => error.Message.Contains("--cells 2 or more", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_Lists_KeptInOrder()
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "ledger", "--cells", "1,2,4", "--cross-cell", "0,10,50"]);

        Assert.Empty(result.Errors);
        Assert.Equal([1, 2, 4], result.GetValue<IReadOnlyList<int>?>("--cells"));
        Assert.Equal([0, 10, 50], result.GetValue<IReadOnlyList<int>?>("--cross-cell"));
    }

    [Fact]
    public async Task Run_TwoCellsHalfCrossCell_CommitsThroughTheRouter_ConservesMoney_WritesEveryFigure()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var options = new LedgerBenchmarkOptions
        {
            Accounts = 200,
            Clients = 2,
            BatchSize = 50,
            Duration = TimeSpan.FromSeconds(1),
            Warmup = TimeSpan.FromMilliseconds(200),
            DataDirectory = Path.Combine(_directory, "data"),
        };
        var console = new StringWriter();

        var exit = await BenchCommand.RunCellsAsync(options, [2], [50], "bulwark bench ledger --cells 2 --cross-cell 50", new DirectoryInfo(_directory), "cells", console, timeout.Token);

        Assert.True(exit == 0, console.ToString());
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_directory, "cells.json"), timeout.Token));
        var run = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal(2, run.GetProperty("cells").GetInt32());
        Assert.Equal(50, run.GetProperty("cross_cell_percent").GetInt32());
        Assert.True(run.GetProperty("transfers_committed").GetInt64() > 0);
        // Half asked for; a few hundred transfers land within a wide margin of it.
        Assert.InRange(run.GetProperty("cross_cell_share").GetDouble(), 25, 75);
        Assert.True(run.GetProperty("money_conserved").GetBoolean());
        Assert.Equal(0, run.GetProperty("transit_net").GetInt64());
        Assert.True(run.GetProperty("checker_ok").GetBoolean());
        Assert.Equal(0, run.GetProperty("failed_calls").GetInt64());
        Assert.Equal(0, run.GetProperty("declined").GetInt64());
        foreach (var figure in new[] { "transfers_per_second", "latency_p50_milliseconds", "latency_p99_milliseconds", "cpu_microseconds_per_transfer", "retriable_refusals", "load_average" })
        {
            Assert.True(run.TryGetProperty(figure, out _), $"no {figure} in the JSON");
        }
        var markdown = await File.ReadAllTextAsync(Path.Combine(_directory, "cells.md"), timeout.Token);
        Assert.Contains("| 2 | 50% |", markdown, StringComparison.Ordinal);
        Assert.Contains("conserved", markdown, StringComparison.Ordinal);
        Assert.Contains("Command: `bulwark bench ledger --cells 2 --cross-cell 50`", markdown, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
