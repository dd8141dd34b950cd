using System.Text.Json;

namespace Bulwark.CardNetwork.Tests;

public sealed class AuthorizationBenchmarkReportTests
{
    [Fact]
    public void HighestRateWithinTarget_IgnoresRowsWithTimeoutsOrSlowP99()
    {
        var benchmark = new AuthorizationBenchmark(DateTimeOffset.UnixEpoch, "bulwark bench auth", "2 cores", "one process", [Row(1_000, 2.0, 0), Row(2_000, 8.0, 0), Row(3_000, 9.0, 5), Row(4_000, 40.0, 0)]);

        Assert.Equal(2_000, benchmark.HighestRateWithinTarget);
    }

    [Fact]
    public void Write_JsonAndMarkdown_CarryTheFigures()
    {
        var benchmark = new AuthorizationBenchmark(DateTimeOffset.UnixEpoch, "bulwark bench auth --rate 2000", AuthorizationBenchmark.DescribeMachine(), "one process", [Row(2_000, 4.25, 0)]);
        var directory = Directory.CreateTempSubdirectory("bulwark-bench-");
        try
        {
            var (json, markdown) = benchmark.Write(directory.FullName, "auth-test");

            using var document = JsonDocument.Parse(File.ReadAllText(json));
            var row = document.RootElement.GetProperty("rows")[0];
            Assert.Equal(4.25, row.GetProperty("p99_milliseconds").GetDouble());
            Assert.Equal(2_000, document.RootElement.GetProperty("highest_rate_within_target").GetDouble());
            var text = File.ReadAllText(markdown);
            Assert.Contains("| 2,000 |", text, StringComparison.Ordinal);
            Assert.Contains("`bulwark bench auth --rate 2000`", text, StringComparison.Ordinal);
            Assert.Contains("**2,000 authorisations/s**", text, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static AuthorizationBenchmarkRow Row(double rate, double p99, long timeouts) =>
        new(rate, rate, 10, (long)rate * 10, (long)rate * 9, (long)rate, 0, timeouts, 0, p99 / 2, p99, p99 * 1.5, p99 * 2, 0.5, new Dictionary<string, long> { ["00"] = (long)rate * 9 });
}
