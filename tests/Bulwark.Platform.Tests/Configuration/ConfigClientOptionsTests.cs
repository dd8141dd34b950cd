using Bulwark.Platform.Configuration;

namespace Bulwark.Platform.Tests.Configuration;

public sealed class ConfigClientOptionsTests
{
    [Fact]
    public void StaleAfter_NotSet_ThreeProgressIntervals()
    {
        var options = new ConfigClientOptions { Prefixes = ["edge/"], ProgressIntervalMilliseconds = 2000 };

        Assert.Equal(TimeSpan.FromSeconds(6), options.StaleAfter);
    }

    [Theory]
    [InlineData("edge/", "edge/staff/")]
    [InlineData("edge/", "edge/")]
    [InlineData("", "edge/")]
    public void Validate_OnePrefixInsideAnother_Throws(string first, string second)
    {
        var options = new ConfigClientOptions { Prefixes = [first, second] };

        Assert.Throws<ArgumentException>(options.Validate);
    }

    [Fact]
    public void Validate_StaleAfterNotLongerThanTheProgressInterval_Throws()
    {
        var options = new ConfigClientOptions { Prefixes = ["edge/"], ProgressIntervalMilliseconds = 5000, StaleAfterSeconds = 5 };

        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
    }

    [Theory]
    [InlineData(99)]
    [InlineData(60_001)]
    public void Validate_ProgressIntervalOutsideTheContract_Throws(int milliseconds)
    {
        var options = new ConfigClientOptions { Prefixes = ["edge/"], ProgressIntervalMilliseconds = milliseconds };

        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
    }

    [Fact]
    public void Validate_Defaults_Accepted()
    {
        new ConfigClientOptions { Prefixes = ["edge/", "feed/"], CachePath = "/var/lib/bulwark/config-cache.bin" }.Validate();
    }
}
