using System.Security.Cryptography;
using Bulwark.Support.Security;

namespace Bulwark.Support.Tests.Security;

public sealed class TotpKeyRingTests : IDisposable
{
    private readonly string _directory = SupportTestHost.NewDirectory();

    private string KeyPath => Path.Combine(_directory, "keys", "totp.key");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void LoadOrCreate_NoFile_CreatesKeyOneOwnerOnly_AndLoadsTheSameKeyAgain()
    {
        var created = TotpKeyRing.LoadOrCreate(KeyPath);
        var loaded = TotpKeyRing.LoadOrCreate(KeyPath);

        Assert.True(created.Created);
        Assert.False(loaded.Created);
        Assert.Equal(1, created.CurrentKeyId);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyPath));
        var secret = RandomNumberGenerator.GetBytes(20);
        Assert.Equal(secret, loaded.Decrypt("staff-1", created.Encrypt("staff-1", secret)));
    }

    [Fact]
    public void Decrypt_CiphertextMovedToAnotherStaffMember_Refused()
    {
        var keys = TotpKeyRing.LoadOrCreate(KeyPath);
        var encrypted = keys.Encrypt("staff-1", RandomNumberGenerator.GetBytes(20));

        Assert.ThrowsAny<CryptographicException>(() => keys.Decrypt("staff-2", encrypted));
    }

    [Fact]
    public void Encrypt_TwoKeys_TheHighestEncrypts_EitherDecrypts()
    {
        var keys = TotpKeyRing.LoadOrCreate(KeyPath);
        var old = keys.Encrypt("staff-1", [1, 2, 3]);
        File.AppendAllText(KeyPath, "7 " + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n");

        var rotated = TotpKeyRing.LoadOrCreate(KeyPath);

        Assert.Equal(7, rotated.CurrentKeyId);
        Assert.Equal(7, rotated.Encrypt("staff-1", [4]).KeyId);
        Assert.Equal([1, 2, 3], rotated.Decrypt("staff-1", old));
    }

    [Theory]
    [InlineData("1 abcd\n")]
    [InlineData("0 0000000000000000000000000000000000000000000000000000000000000000\n")]
    [InlineData("1 0000000000000000000000000000000000000000000000000000000000000000\n1 1111111111111111111111111111111111111111111111111111111111111111\n")]
    [InlineData("# only a comment\n")]
    public void LoadOrCreate_MalformedFile_RefusedNamingTheFileAndRunbook(string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(KeyPath)!);
        File.WriteAllText(KeyPath, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(KeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var error = Assert.Throws<InvalidOperationException>(() => TotpKeyRing.LoadOrCreate(KeyPath));

        Assert.Contains(KeyPath, error.Message, StringComparison.Ordinal);
        Assert.Contains("docs/runbooks/staff.md", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void LoadOrCreate_FileOthersCanRead_RefusedSayingChmod600()
    {
        TotpKeyRing.LoadOrCreate(KeyPath);
        File.SetUnixFileMode(KeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var error = Assert.Throws<InvalidOperationException>(() => TotpKeyRing.LoadOrCreate(KeyPath));

        Assert.Contains($"chmod 600 {KeyPath}", error.Message, StringComparison.Ordinal);
    }
}
