using Bulwark.Platform.Placement;

namespace Bulwark.Platform.Tests.Placement;

public sealed class FilePlacementStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"bulwark-placement-{Guid.NewGuid():N}");

    private string MapPath => Path.Combine(_directory, "placement.json");

    [Fact]
    public async Task ReadAsync_NoFile_Null()
    {
        var store = new FilePlacementStore(MapPath, TimeProvider.System);

        Assert.Null(await store.ReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task CreateIfAbsent_WritesOnce_SecondKeepsTheFirst()
    {
        var store = new FilePlacementStore(MapPath, TimeProvider.System);
        var first = PlacementMap.CreateInitial("bank-1", 8, ["a"]);

        var created = await store.CreateIfAbsentAsync(first, CancellationToken.None);
        var again = await store.CreateIfAbsentAsync(PlacementMap.CreateInitial("bank-2", 8, ["b"]), CancellationToken.None);
        var read = await store.ReadAsync(CancellationToken.None);

        Assert.Equal("bank-1", created.Map!.ClusterId);
        Assert.Equal("bank-1", again.Map!.ClusterId);
        Assert.Equal(created.Revision, read!.Revision);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(MapPath));
        }
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
    }

    [Fact]
    public async Task Replace_FromWhatWasRead_Succeeds_ThenTheSameExpectationFails()
    {
        var store = new FilePlacementStore(MapPath, TimeProvider.System);
        var read = await store.CreateIfAbsentAsync(PlacementMap.CreateInitial("bank-1", 8, ["a", "b"]), CancellationToken.None);

        var moved = await store.ReplaceAsync(read, read.Map!.WithMove(0, "b"), CancellationToken.None);
        var stale = await store.ReplaceAsync(read, read.Map!.WithMove(1, "b"), CancellationToken.None);

        Assert.True(moved.Succeeded);
        Assert.False(stale.Succeeded);
        Assert.Equal(2, stale.Current!.Map!.Version);
        Assert.Equal("b", (await store.ReadAsync(CancellationToken.None))!.Map!.CellOf(0));
        Assert.Equal("a", (await store.ReadAsync(CancellationToken.None))!.Map!.CellOf(1));
    }

    [Fact]
    public async Task Replace_ConcurrentWriters_ExactlyOneWinsEachRound()
    {
        var store = new FilePlacementStore(MapPath, TimeProvider.System);
        var read = await store.CreateIfAbsentAsync(PlacementMap.CreateInitial("bank-1", 8, ["a", "b"]), CancellationToken.None);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(partition =>
            Task.Run(() => store.ReplaceAsync(read, read.Map!.WithMove(partition, read.Map!.CellOf(partition) == "a" ? "b" : "a"), CancellationToken.None))));

        Assert.Single(results, result => result.Succeeded);
        Assert.Equal(2, (await store.ReadAsync(CancellationToken.None))!.Map!.Version);
    }

    [Fact]
    public async Task Replace_NotTheSuccessor_ProgrammerError()
    {
        var store = new FilePlacementStore(MapPath, TimeProvider.System);
        var read = await store.CreateIfAbsentAsync(PlacementMap.CreateInitial("bank-1", 8, ["a", "b"]), CancellationToken.None);

        await Assert.ThrowsAsync<ArgumentException>(() => store.ReplaceAsync(read, read.Map!.WithMove(0, "b").WithMove(1, "b"), CancellationToken.None));
    }

    [Fact]
    public async Task Read_GarbageInTheFile_AReadWithTheError()
    {
        Directory.CreateDirectory(_directory);
        await File.WriteAllTextAsync(MapPath, "{\"formatVersion\": 9}");
        var store = new FilePlacementStore(MapPath, TimeProvider.System);

        var read = await store.ReadAsync(CancellationToken.None);

        Assert.Null(read!.Map);
        Assert.Equal(PlacementMapUnusableReason.NewerFormat, read.Error!.Reason);
    }

    [Fact]
    public async Task Watch_SeesAChangeWithinAFewPolls()
    {
        var store = new FilePlacementStore(MapPath, TimeProvider.System, new FilePlacementStoreOptions { PollIntervalMilliseconds = 50 });
        var read = await store.CreateIfAbsentAsync(PlacementMap.CreateInitial("bank-1", 8, ["a", "b"]), CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        var seen = new List<long>();
        await foreach (var change in store.WatchAsync(timeout.Token))
        {
            seen.Add(change!.Map!.Version);
            if (seen.Count == 2)
            {
                Assert.True((await store.ReplaceAsync(read, read.Map!.WithMove(0, "b"), CancellationToken.None)).Succeeded);
            }
            if (change.Map.Version == 2)
            {
                break;
            }
        }

        Assert.Equal(1, seen[0]);
        Assert.Equal(2, seen[^1]);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
