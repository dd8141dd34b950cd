using System.Runtime.CompilerServices;
using Bulwark.Platform.Placement;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Platform.Tests.Placement;

public sealed class PlacementSnapshotStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"bulwark-placement-snapshot-{Guid.NewGuid():N}");

    private string SnapshotPath => Path.Combine(_directory, "placement-ledger-a.json");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private PlacementSnapshotStore Over(IPlacementStore store) => new(store, SnapshotPath, TimeProvider.System, NullLogger<PlacementSnapshotStore>.Instance);

    [Fact]
    public async Task Read_StoreAnswers_KeepsTheMapInTheFile()
    {
        var inner = new FakeStore { Read = new PlacementRead(7, PlacementMap.CreateInitial("bank-1", 8, ["a", "b"]), null) };

        var read = await Over(inner).ReadAsync(CancellationToken.None);

        Assert.Equal(7, read!.Revision);
        var kept = PlacementMapCodec.Decode(await File.ReadAllBytesAsync(SnapshotPath));
        Assert.Equal(["a", "b"], kept.Cells.Keys.Order(StringComparer.Ordinal));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SnapshotPath));
        }
    }

    [Fact]
    public async Task Read_StoreFails_AnswersFromTheFile_OrFailsAsTheStoreDidWithoutOne()
    {
        var inner = new FakeStore { Failure = new TimeoutException("etcd hung") };
        await Assert.ThrowsAsync<TimeoutException>(() => Over(inner).ReadAsync(CancellationToken.None));

        inner.Failure = null;
        inner.Read = new PlacementRead(7, PlacementMap.CreateInitial("bank-1", 8, ["a", "b"]), null);
        await Over(inner).ReadAsync(CancellationToken.None);
        inner.Failure = new TimeoutException("etcd hung");

        var fromFile = await Over(inner).ReadAsync(CancellationToken.None);

        Assert.Equal("bank-1", fromFile!.Map!.ClusterId);
        Assert.Equal(2, fromFile.Map.Cells.Count);
    }

    [Fact]
    public async Task Read_StoreSilent_AnswersFromTheFileWithoutWaitingForTheStoreToGiveUp()
    {
        var inner = new FakeStore { Read = new PlacementRead(7, PlacementMap.CreateInitial("bank-1", 8, ["a", "b"]), null) };
        await Over(inner).ReadAsync(CancellationToken.None);
        using var silent = new CancellationTokenSource();
        inner.Hang = silent.Token;

        var fromFile = await Over(inner).ReadAsync(CancellationToken.None);

        Assert.Equal("bank-1", fromFile!.Map!.ClusterId);
        await silent.CancelAsync();
    }

    [Fact]
    public async Task ReadFromStore_StoreSlowerThanTheSnapshotWait_WaitsForItsNewerMapAndKeepsIt_AndFailsAsTheStoreDoes()
    {
        var first = PlacementMap.CreateInitial("bank-1", 8, ["a", "b"]);
        var inner = new FakeStore { Read = new PlacementRead(1, first, null) };
        await Over(inner).ReadAsync(CancellationToken.None);
        // A move made since, in a store that answers after the wait a router's read allows it.
        inner.Read = new PlacementRead(2, first.WithMove(0, "b"), null);
        inner.Delay = PlacementSnapshotStore.StoreWaitBeforeSnapshot * 2;
        Assert.Equal("a", (await Over(inner).ReadAsync(CancellationToken.None))!.Map!.CellOf(0));

        var now = await Over(inner).ReadFromStoreAsync(CancellationToken.None);

        Assert.Equal("b", now!.Map!.CellOf(0));
        Assert.Equal("b", PlacementMapCodec.Decode(await File.ReadAllBytesAsync(SnapshotPath)).CellOf(0));
        inner.Failure = new TimeoutException("etcd hung");
        await Assert.ThrowsAsync<TimeoutException>(() => Over(inner).ReadFromStoreAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Watch_KeepsEveryNewerMap_AndNeverAnOlderOne()
    {
        var first = PlacementMap.CreateInitial("bank-1", 8, ["a", "b"]);
        var moved = first.WithMove(0, "b");
        var inner = new FakeStore { Watched = [new PlacementRead(1, first, null), new PlacementRead(2, moved, null), new PlacementRead(3, first, null), null] };

        var seen = new List<PlacementRead?>();
        await foreach (var read in Over(inner).WatchAsync(CancellationToken.None))
        {
            seen.Add(read);
        }

        Assert.Equal(4, seen.Count);
        var kept = PlacementMapCodec.Decode(await File.ReadAllBytesAsync(SnapshotPath));
        Assert.Equal(moved.Version, kept.Version);
        Assert.Equal("b", kept.CellOf(0));
    }

    [Fact]
    public async Task Writes_GoToTheStoreOnly()
    {
        var inner = new FakeStore();
        var map = PlacementMap.CreateInitial("bank-1", 8, ["a"]);

        await Over(inner).CreateIfAbsentAsync(map, CancellationToken.None);

        Assert.Same(map, inner.Created);
        Assert.False(File.Exists(SnapshotPath));
    }

    private sealed class FakeStore : IPlacementStore
    {
        public PlacementRead? Read { get; set; }

        public Exception? Failure { get; set; }

        public List<PlacementRead?> Watched { get; init; } = [];

        public PlacementMap? Created { get; private set; }

        /// <summary>Reads never answer until this token is cancelled (etcd hung), then fail.</summary>
        public CancellationToken? Hang { get; set; }

        /// <summary>How long each read takes to answer.</summary>
        public TimeSpan Delay { get; set; }

        public async Task<PlacementRead?> ReadAsync(CancellationToken cancellationToken)
        {
            await Task.Delay(Delay, cancellationToken);
            if (Hang is { } hang)
            {
                await Task.Delay(Timeout.Infinite, hang);
            }
            return Failure is { } failure ? throw failure : Read;
        }

        public Task<PlacementRead> CreateIfAbsentAsync(PlacementMap map, CancellationToken cancellationToken)
        {
            Created = map;
            return Task.FromResult(new PlacementRead(1, map, null));
        }

        public Task<PlacementWriteResult> ReplaceAsync(PlacementRead expected, PlacementMap next, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public async IAsyncEnumerable<PlacementRead?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            foreach (var read in Watched)
            {
                await Task.Yield();
                yield return read;
            }
        }
    }
}
