using Bulwark.Platform.Security;

namespace Bulwark.Platform.Tests.Security;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PrivateFilesTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-private-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.GroupWrite)]
    [InlineData(UnixFileMode.OtherRead)]
    [InlineData(UnixFileMode.OtherWrite)]
    [InlineData(UnixFileMode.OtherExecute)]
    public void RefuseSharedKeyFile_AnyGroupOrOtherBit_RefusedNamingTheFileAndTheFix(UnixFileMode extra)
    {
        var key = WriteKey(PrivateFiles.FileMode | extra);

        var error = Assert.Throws<InvalidOperationException>(() => PrivateFiles.RefuseSharedKeyFile(key));

        Assert.Contains($"chmod 600 {key}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite)]
    [InlineData(UnixFileMode.UserRead)]
    public void RefuseSharedKeyFile_OwnerOnly_Accepted(UnixFileMode mode)
    {
        var key = WriteKey(mode);

        PrivateFiles.RefuseSharedKeyFile(key);
    }

    [Fact]
    public void CreateDirectory_NewNested_EachLevelOwnerOnly()
    {
        var nested = Path.Combine(_directory, "a", "b");

        PrivateFiles.CreateDirectory(nested);

        Assert.Equal(PrivateFiles.DirectoryMode, File.GetUnixFileMode(_directory));
        Assert.Equal(PrivateFiles.DirectoryMode, File.GetUnixFileMode(Path.Combine(_directory, "a")));
        Assert.Equal(PrivateFiles.DirectoryMode, File.GetUnixFileMode(nested));
    }

    private string WriteKey(UnixFileMode mode)
    {
        Directory.CreateDirectory(_directory);
        var key = Path.Combine(_directory, "test.key");
        File.WriteAllBytes(key, new byte[32]);
        File.SetUnixFileMode(key, mode);
        return key;
    }
}
