using Bulwark.Cli.Commands;

namespace Bulwark.Cli.Tests;

public sealed class CommonOptionsTests
{
    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("20", 20_000)]
    public void TryParseDuration_ValidText_ParsesMilliseconds(string text, long milliseconds)
    {
        Assert.True(CommonOptions.TryParseDuration(text, out var duration));
        Assert.Equal(milliseconds, (long)duration.TotalMilliseconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("-5s")]
    [InlineData("0s")]
    [InlineData("10x")]
    [InlineData("9999999h")]
    public void TryParseDuration_BadText_IsRefused(string text)
    {
        Assert.False(CommonOptions.TryParseDuration(text, out _));
    }

    [Theory]
    [InlineData("run --for banana", "--for")]
    [InlineData("run --rate 0", "--rate")]
    [InlineData("run --port 70000", "--port")]
    [InlineData("run --customers -1", "--customers")]
    public void Parse_BadArgument_ReportsErrorNamingTheOption(string commandLine, string option)
    {
        var result = BulwarkCommandLine.Create().Parse(commandLine);

        var error = Assert.Single(result.Errors);
        Assert.Contains(option.TrimStart('-'), error.Message, StringComparison.Ordinal);
    }
}
