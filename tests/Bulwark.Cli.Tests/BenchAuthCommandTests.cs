using Bulwark.Cli.Commands;

namespace Bulwark.Cli.Tests;

/// <summary><c>bulwark bench auth</c>: its arguments, and one short run that shows it measures real answers.</summary>
public sealed class BenchAuthCommandTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("-100")]
    [InlineData("fast")]
    [InlineData("500,,1000")]
    [InlineData("500,abc")]
    [InlineData("1e9")]
    [InlineData("200000")]
    public void Parse_BadRate_ReportsErrorNamingRate(string rate)
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "auth", "--rate", rate, "--duration", "1s"]);

        var error = Assert.Single(result.Errors);
        Assert.Contains("--rate", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--duration", "soon")]
    [InlineData("--duration", "0s")]
    [InlineData("--duration", "-5s")]
    [InlineData("--warmup", "later")]
    [InlineData("--customers", "0")]
    public void Parse_BadOption_ReportsError(string option, string value)
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "auth", "--rate", "100", option, value]);

        Assert.Contains(result.Errors, error => error.Message.Contains(option, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_NoRate_ReportsError()
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "auth", "--duration", "1s"]);

        Assert.NotEmpty(result.Errors);
    }

    [Fact]
    public void Parse_SeveralRates_AllKeptInOrder()
    {
        var result = BulwarkCommandLine.Create().Parse(["bench", "auth", "--rate", "500,1000,2000.5", "--duration", "1s"]);

        Assert.Empty(result.Errors);
        Assert.Equal([500, 1000, 2000.5], result.GetValue<IReadOnlyList<double>>("--rate"));
    }

    [Fact]
    public async Task Run_ShortLowRate_ApprovesAndMeasuresEveryAuthorisation()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var settings = new BenchAuthCommand.Settings([50], TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(200), Customers: 5, Seed: 1);

        var benchmark = await BenchAuthCommand.RunAsync(settings, "bulwark bench auth --rate 50 --duration 1s", TextWriter.Null, timeout.Token);

        var row = Assert.Single(benchmark!.Rows);
        Assert.Equal(50, row.Scheduled);
        Assert.True(row.Approved > 0, $"approved {row.Approved}, declined {row.Declined}, timeouts {row.TimedOut}");
        Assert.Equal(row.Scheduled, row.Approved + row.Declined + row.StandIns + row.NotSent);
        Assert.True(row.P50Milliseconds > 0 && row.P50Milliseconds <= row.P99Milliseconds && row.P99Milliseconds <= row.MaxMilliseconds);
        Assert.Contains("Ledger check after the runs: ok", benchmark.Setup, StringComparison.Ordinal);
    }
}
