using System.Text;
using Bulwark.Platform.Configuration;

namespace Bulwark.Platform.Tests.Configuration;

public sealed class ConfigCacheFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("bulwark-config-cache-").FullName;

    private string CachePath => Path.Combine(_directory, "data", "config-cache.bin");

    private static readonly ConfigCacheContent Content = new(
        [new ConfigEntry("edge/staff-ranges", "[\"10.0.0.0/8\"]", 4, false), new ConfigEntry("edge/old", "", 6, true)],
        new Dictionary<string, long> { ["edge/"] = 7 },
        new DateTimeOffset(2026, 12, 7, 2, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Save_ThenLoad_GivesBackEveryEntryTombstonesAndRevisions()
    {
        ConfigCacheFile.Save(CachePath, Content);

        var loaded = ConfigCacheFile.Load(CachePath, out var problem, out _);

        Assert.Null(problem);
        Assert.NotNull(loaded);
        Assert.Equal(Content.Entries, loaded.Entries);
        Assert.Equal(7, loaded.Revisions["edge/"]);
        Assert.Equal(Content.SavedAt, loaded.SavedAt);
    }

    [Fact]
    public void Save_FileAndDirectoryAreTheOwnersOnly_AndNoTemporaryFileIsLeft()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        ConfigCacheFile.Save(CachePath, Content);
        ConfigCacheFile.Save(CachePath, Content);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(CachePath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(CachePath)!));
        Assert.Equal([CachePath], Directory.GetFiles(Path.GetDirectoryName(CachePath)!));
    }

    [Fact]
    public void Load_OneByteChanged_ChecksumMismatch()
    {
        ConfigCacheFile.Save(CachePath, Content);
        var bytes = File.ReadAllBytes(CachePath);
        var at = Array.LastIndexOf(bytes, (byte)'8');
        bytes[at] = (byte)'9';
        File.WriteAllBytes(CachePath, bytes);

        Assert.Null(ConfigCacheFile.Load(CachePath, out var problem, out _));
        Assert.Equal(ConfigCacheProblem.ChecksumMismatch, problem);
    }

    [Fact]
    public void Load_Truncated_ChecksumMismatch()
    {
        ConfigCacheFile.Save(CachePath, Content);
        var bytes = File.ReadAllBytes(CachePath);
        File.WriteAllBytes(CachePath, bytes[..(bytes.Length - 10)]);

        Assert.Null(ConfigCacheFile.Load(CachePath, out var problem, out _));
        Assert.Equal(ConfigCacheProblem.ChecksumMismatch, problem);
    }

    [Fact]
    public void Load_NewerFormat_Refused()
    {
        var bytes = ConfigCacheFile.Encode(Content);
        var text = Encoding.UTF8.GetString(bytes).Replace($"{ConfigCacheFile.Magic} {ConfigClientLimits.CacheFormatVersion} ", $"{ConfigCacheFile.Magic} {ConfigClientLimits.CacheFormatVersion + 1} ", StringComparison.Ordinal);
        Directory.CreateDirectory(Path.GetDirectoryName(CachePath)!);
        File.WriteAllText(CachePath, text);

        Assert.Null(ConfigCacheFile.Load(CachePath, out var problem, out _));
        Assert.Equal(ConfigCacheProblem.NewerFormat, problem);
    }

    [Fact]
    public void Load_Garbage_NotACache()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(CachePath)!);
        File.WriteAllBytes(CachePath, [0, 1, 2, 3, 10, 4, 5]);

        Assert.Null(ConfigCacheFile.Load(CachePath, out var problem, out _));
        Assert.Equal(ConfigCacheProblem.NotACache, problem);
    }

    [Fact]
    public void Load_NoFile_NothingAndNoProblem()
    {
        Assert.Null(ConfigCacheFile.Load(CachePath, out var problem, out _));
        Assert.Null(problem);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
