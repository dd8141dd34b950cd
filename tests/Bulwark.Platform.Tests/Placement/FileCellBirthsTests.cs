using Bulwark.Platform.Placement;

namespace Bulwark.Platform.Tests.Placement;

public sealed class FileCellBirthsTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"bulwark-births-{Guid.NewGuid():N}");

    private string FilePath => Path.Combine(_directory, "placement-births.json");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Claim_FirstThenUnconfirmedUntilConfirmed_ThenBorn_KeptAcrossInstances()
    {
        var births = new FileCellBirths(FilePath);

        Assert.Null(births.Recorded("a"));
        Assert.Equal(CellBirthClaim.First, births.Claim("a"));
        Assert.Equal(CellBirthClaim.Unconfirmed, births.Recorded("a"));
        Assert.Equal(CellBirthClaim.Unconfirmed, births.Claim("a"));
        await births.ConfirmAsync("a", CancellationToken.None);

        var reopened = new FileCellBirths(FilePath);
        Assert.Equal(CellBirthClaim.Born, await reopened.ClaimAsync("a", CancellationToken.None));
        Assert.Equal(CellBirthClaim.First, reopened.Claim("b"));
        Assert.Equal("{\"a\":\"born\",\"b\":\"claimed\"}", await File.ReadAllTextAsync(FilePath));
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("null")]
    [InlineData("{\"../x\":\"born\"}")]
    public void Claim_DamagedFile_RefusedNamingTheFile_NeverReadAsNoBirth(string content)
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllText(FilePath, content);
        var births = new FileCellBirths(FilePath);

        var error = Assert.Throws<InvalidOperationException>(() => births.Claim("a"));

        Assert.Contains(FilePath, error.Message, StringComparison.Ordinal);
        Assert.Equal(content, File.ReadAllText(FilePath));
    }
}
