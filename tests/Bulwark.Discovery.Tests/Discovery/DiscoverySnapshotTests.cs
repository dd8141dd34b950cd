using Bulwark.Discovery.Etcd.Discovery;
using Bulwark.Platform.Registry;

namespace Bulwark.Discovery.Tests.Discovery;

public sealed class DiscoverySnapshotTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("bulwark-snapshot-test-");

    private string PathOf(string name) => Path.Combine(_directory.FullName, name);

    [Fact]
    public void SaveThenLoad_ViewsComeBackNotAuthoritative()
    {
        var path = PathOf("s.json");
        ServiceView[] views =
        [
            new("beta", [new ServiceInstance("beta", "b1", "127.0.0.1:5001", "1")], 9, true),
            new("gamma", [], 9, true) { Detail = "scaled to 0" },
        ];

        DiscoverySnapshot.Save(path, views, 9, DateTimeOffset.UnixEpoch);
        var loaded = DiscoverySnapshot.TryLoad(path, out var back, out var revision, out _, out _);

        Assert.True(loaded);
        Assert.Equal(9, revision);
        Assert.Equal("127.0.0.1:5001", Assert.Single(back.Single(v => v.Service == "beta").Instances).Address);
        Assert.Equal("scaled to 0", back.Single(v => v.Service == "gamma").Detail);
        Assert.All(back, view => Assert.False(view.Authoritative));
        Assert.Single(_directory.GetFiles());
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("{\"services\":null}")]
    [InlineData("{truncated")]
    public void TryLoad_DamagedFile_FalseWithReasonNeverThrows(string content)
    {
        var path = PathOf("damaged.json");
        File.WriteAllText(path, content);

        Assert.False(DiscoverySnapshot.TryLoad(path, out _, out _, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void TryLoad_BrokenEntry_SkippedOthersKept()
    {
        var path = PathOf("partial.json");
        File.WriteAllText(path, """{"savedAt":"2026-01-01T00:00:00Z","revision":3,"services":[null,{"service":"","instances":[]},{"service":"beta","instances":[{"instanceId":"b1","address":"127.0.0.1:1","version":"1"},{"instanceId":"","address":"x:1"}]}]}""");

        Assert.True(DiscoverySnapshot.TryLoad(path, out var views, out _, out _, out _));
        Assert.Single(Assert.Single(views).Instances);
    }

    [Fact]
    public void TryLoad_Missing_False()
    {
        Assert.False(DiscoverySnapshot.TryLoad(PathOf("none.json"), out _, out _, out _, out var error));
        Assert.Equal("no snapshot file", error);
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
