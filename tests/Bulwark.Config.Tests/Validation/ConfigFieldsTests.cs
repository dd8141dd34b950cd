using Bulwark.Config.Validation;

namespace Bulwark.Config.Tests.Validation;

public sealed class ConfigFieldsTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("edge/allow-list")]
    [InlineData("feed/page_size.v2")]
    [InlineData("a/b/c/d")]
    public void KeyProblem_ValidKeys_None(string key) => Assert.Null(ConfigFields.KeyProblem(key));

    [Theory]
    [InlineData("", "is required")]
    [InlineData("A", "holds 'A'")]
    [InlineData("a b", "U+0020")]
    [InlineData("a\nb", "U+000A")]
    [InlineData(".a", "must start with a letter or digit")]
    [InlineData("-a", "must start with a letter or digit")]
    [InlineData("a//b", "empty path segment")]
    [InlineData("a/", "must not end with '/'")]
    [InlineData("é", "holds 'é'")]
    public void KeyProblem_InvalidKeys_SaysWhy(string key, string problem) =>
        Assert.Contains(problem, ConfigFields.KeyProblem(key), StringComparison.Ordinal);

    [Fact]
    public void KeyProblem_LengthLimit()
    {
        Assert.Null(ConfigFields.KeyProblem(new string('a', ConfigLimits.KeyLengthMax)));
        Assert.Contains("at most 200", ConfigFields.KeyProblem(new string('a', ConfigLimits.KeyLengthMax + 1)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/")]
    [InlineData("_")]
    public void PrefixProblem_EmptyOrKeyCharacters_None(string prefix) => Assert.Null(ConfigFields.PrefixProblem(prefix));

    [Fact]
    public void ReasonProblem_RequiredAndBounded()
    {
        Assert.Contains("is required", ConfigFields.ReasonProblem("  "), StringComparison.Ordinal);
        Assert.Null(ConfigFields.ReasonProblem("rotate the allow-list (OPS-12)"));
        Assert.Contains("at most 500", ConfigFields.ReasonProblem(new string('r', ConfigLimits.ReasonLengthMax + 1)), StringComparison.Ordinal);
    }

    [Fact]
    public void ValueBytes_CountsUtf8() => Assert.Equal(6, ConfigFields.ValueBytes("aé日"));
}
