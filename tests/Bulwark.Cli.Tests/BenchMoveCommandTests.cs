using System.Text.Json;
using Bulwark.Bench;
using Bulwark.Cli.Commands;

namespace Bulwark.Cli.Tests;

/// <summary>
/// <c>bulwark bench move</c>: a small partition moved between two cells under background payments
/// with the real mover: no failed call, the money conserved, every figure written. The pause is
/// reported, not asserted (it depends on the machine).
/// </summary>
public sealed class BenchMoveCommandTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-bench-move-" + Guid.NewGuid().ToString("n"));

    [Fact]
    public async Task Run_SmallPartitionUnderPayments_MovesIt_NoFailedCall_MoneyConserved_WritesEveryFigure()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var options = new MoveBenchmarkOptions
        {
            Transfers = 3_000,
            PartitionAccounts = 10,
            Rate = 40,
            Workers = 2,
            Settle = TimeSpan.FromMilliseconds(300),
            DataDirectory = Path.Combine(_directory, "data"),
        };
        var console = new StringWriter();

        var exit = await BenchMoveCommand.RunAsync(options, "bulwark bench move --transfers 3000", new DirectoryInfo(_directory), "move", console, timeout.Token);

        Assert.True(exit == 0, console.ToString());
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_directory, "move.json"), timeout.Token));
        var run = json.RootElement;
        Assert.Equal(("a", "b"), (run.GetProperty("source").GetString(), run.GetProperty("target").GetString()));
        Assert.Equal(3_000, run.GetProperty("transfers_built").GetInt64());
        // Every row built plus the background payments that touched the partition before the pause.
        Assert.True(run.GetProperty("transfer_rows_moved").GetInt64() >= 3_000);
        // The partition's 10 accounts and its transit account.
        Assert.Equal(11, run.GetProperty("accounts_moved").GetInt64());
        Assert.Equal(0, run.GetProperty("failed_calls").GetInt64());
        Assert.True(run.GetProperty("background_calls").GetInt64() > 0);
        Assert.True(run.GetProperty("money_conserved").GetBoolean());
        Assert.True(run.GetProperty("checker_ok").GetBoolean());
        var copy = run.GetProperty("copy_milliseconds").GetDouble();
        var owned = run.GetProperty("pause_to_owned_milliseconds").GetDouble();
        var total = run.GetProperty("move_total_milliseconds").GetDouble();
        Assert.True(copy > 0 && owned > 0 && copy + owned <= total, $"copy {copy}, pause to owned {owned}, total {total}");
        foreach (var figure in new[] { "pause_to_released_milliseconds", "pause_to_map_milliseconds", "retriable_refusals", "router_refusals", "partition_max_milliseconds_during_move", "elsewhere_max_milliseconds_during_move", "load_average_before" })
        {
            Assert.True(run.TryGetProperty(figure, out _), $"no {figure} in the JSON");
        }
        Assert.Contains("write pause: pause to the target owning it", await File.ReadAllTextAsync(Path.Combine(_directory, "move.md"), timeout.Token), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
