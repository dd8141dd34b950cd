using System.Text;
using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Etcd.Api;
using Bulwark.Discovery.Etcd.Placement;
using Bulwark.Discovery.Tests.Chain;
using Bulwark.Discovery.Tests.Fixtures;
using Bulwark.Platform.Placement;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Discovery.Tests.Placement;

[Collection(EtcdCollection.Name)]
public sealed class EtcdPlacementStoreTests
{
    private static readonly PlacementMap First = PlacementMap.CreateInitial("bank-1", 16, ["a", "b"]);

    private static EtcdPlacementStoreOptions Options() => new() { Key = $"/bulwark-test-{Guid.NewGuid():N}/placement/map" };

    [Fact]
    public async Task CreateIfAbsent_Once_SecondCreateReturnsTheFirst()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        using var cluster = Connect(etcd);
        var store = new EtcdPlacementStore(cluster, TimeProvider.System, NullLogger<EtcdPlacementStore>.Instance, Options());

        Assert.Null(await store.ReadAsync(CancellationToken.None));
        var created = await store.CreateIfAbsentAsync(First, CancellationToken.None);
        var again = await store.CreateIfAbsentAsync(PlacementMap.CreateInitial("bank-2", 16, ["z"]), CancellationToken.None);
        var read = await store.ReadAsync(CancellationToken.None);

        Assert.Equal("bank-1", again.Map!.ClusterId);
        Assert.Equal(created.Revision, again.Revision);
        Assert.Equal(created.Revision, read!.Revision);
        Assert.Equal(First.Partitions, read.Map!.Partitions);
    }

    [Fact]
    public async Task Replace_TwoWritersFromTheSameRead_OneWins_TheOtherSeesTheWinner()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        using var cluster = Connect(etcd);
        var store = new EtcdPlacementStore(cluster, TimeProvider.System, NullLogger<EtcdPlacementStore>.Instance, Options());
        var read = await store.CreateIfAbsentAsync(First, CancellationToken.None);

        var winner = await store.ReplaceAsync(read, First.WithMove(0, "b"), CancellationToken.None);
        var loser = await store.ReplaceAsync(read, First.WithMove(1, "b"), CancellationToken.None);

        Assert.True(winner.Succeeded);
        Assert.False(loser.Succeeded);
        Assert.Equal(winner.Current!.Revision, loser.Current!.Revision);
        Assert.Equal("b", loser.Current.Map!.CellOf(0));
        Assert.Equal("a", (await store.ReadAsync(CancellationToken.None))!.Map!.CellOf(1));
    }

    [Fact]
    public async Task View_OverEtcd_SeesAChange_KeepsTheLastGoodMapOverMalformedAndNewerValues()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        using var cluster = Connect(etcd);
        var options = Options();
        var store = new EtcdPlacementStore(cluster, TimeProvider.System, NullLogger<EtcdPlacementStore>.Instance, options);
        var read = await store.CreateIfAbsentAsync(First, CancellationToken.None);
        await using var view = new PlacementView(store, TimeProvider.System, NullLogger<PlacementView>.Instance);
        await view.StartAsync(CancellationToken.None);
        Assert.Equal(1, view.Current!.Version);

        var moved = await store.ReplaceAsync(read, First.WithMove(3, "b"), CancellationToken.None);
        await Eventually(() => view.Current!.Version == 2);

        await PutRawAsync(cluster, options.Key, "{\"formatVersion\": 1, \"clusterId\": \"bank-1\", \"version\": 3, \"version\": 4}");
        await Eventually(() => view.UnusableTotal(PlacementMapUnusableReason.Malformed) == 1);
        await PutRawAsync(cluster, options.Key, "{\"formatVersion\": 7, \"shards\": {}}");
        await Eventually(() => view.UnusableTotal(PlacementMapUnusableReason.NewerFormat) == 1);

        Assert.Equal(2, view.Current!.Version);
        Assert.Equal("b", view.Current.CellOf(3));
        Assert.Equal(PlacementMapUnusableReason.NewerFormat, view.UnusableNow);
        Assert.Equal(1, view.UnusableTotal(PlacementMapUnusableReason.Malformed));

        // Repaired by an operator: the next good version is taken.
        var repaired = await store.ReadAsync(CancellationToken.None);
        Assert.True((await store.ReplaceAsync(repaired!, moved.Current!.Map!.WithMove(4, "b").WithMove(5, "b"), CancellationToken.None)).Succeeded);
        await Eventually(() => view.Current!.Version == 4);
        Assert.Null(view.UnusableNow);
        Assert.True(view.IsFresh);
    }

    [Fact]
    public async Task View_EtcdPaused_GoesStale_KeepsTheMap_FreshAgainAfter()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        using var cluster = Connect(etcd);
        var store = new EtcdPlacementStore(cluster, TimeProvider.System, NullLogger<EtcdPlacementStore>.Instance, Options() with { StaleAfterSeconds = 1.5 });
        await store.CreateIfAbsentAsync(First, CancellationToken.None);
        await using var view = new PlacementView(store, TimeProvider.System, NullLogger<PlacementView>.Instance, new PlacementViewOptions { StaleAfterSeconds = 2 });
        await view.StartAsync(CancellationToken.None);
        await Eventually(() => view.IsFresh);

        await etcd.PauseAllAsync();
        await Eventually(() => !view.IsFresh);
        Assert.Equal(1, view.Current!.Version);
        await etcd.ResumeAllAsync();

        await Eventually(() => view.IsFresh, seconds: 20);
    }

    [Fact]
    public async Task CellBirths_FirstClaimIsFirst_AnUnconfirmedClaimStaysFirst_AConfirmedOneIsBornForEveryLaterStore()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        using var cluster = Connect(etcd);
        var prefix = $"/bulwark-test-{Guid.NewGuid():N}/births/";
        var births = new EtcdCellBirths(cluster, prefix);

        Assert.Equal(CellBirthClaim.First, await births.ClaimAsync("a", CancellationToken.None));
        // A start that died before its store held its identity: the next start is still the first.
        Assert.Equal(CellBirthClaim.Unconfirmed, await births.ClaimAsync("a", CancellationToken.None));
        await births.ConfirmAsync("a", CancellationToken.None);
        await births.ConfirmAsync("a", CancellationToken.None);
        Assert.Equal(CellBirthClaim.Born, await births.ClaimAsync("a", CancellationToken.None));
        // Cells are apart; a damaged record reads as born (the safe side).
        Assert.Equal(CellBirthClaim.First, await births.ClaimAsync("b", CancellationToken.None));
        await PutRawAsync(cluster, prefix + "c", "{garbage");
        Assert.Equal(CellBirthClaim.Born, await births.ClaimAsync("c", CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => births.ClaimAsync("../map", CancellationToken.None));
    }

    [Fact]
    public async Task CellBirthConfirmer_EtcdHungAtTheConfirm_ReturnsWithinItsBound_AndConfirmsInTheBackgroundOnceEtcdAnswers()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        using var cluster = Connect(etcd);
        var births = new EtcdCellBirths(cluster, $"/bulwark-test-{Guid.NewGuid():N}/births/");
        Assert.Equal(CellBirthClaim.First, await births.ClaimAsync("a", CancellationToken.None));
        await using var confirmer = new CellBirthConfirmer(births, NullLogger.Instance, new CellBirthConfirmerOptions
        {
            AttemptTimeout = TimeSpan.FromSeconds(1),
            FirstRetryDelay = TimeSpan.FromMilliseconds(200),
            RetryDelayMax = TimeSpan.FromSeconds(1),
            AttemptsMax = 200,
        });
        // etcd stalls (accepts, never answers) between the store's birth and its confirmation.
        await etcd.PauseAllAsync();

        await confirmer.ConfirmAsync("a", CancellationToken.None);

        Assert.False(confirmer.RetryingOf("a").IsCompleted, "the first attempt cannot have confirmed: etcd was stopped");
        await etcd.ResumeAllAsync();
        await confirmer.RetryingOf("a").WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(CellBirthClaim.Born, await births.ClaimAsync("a", CancellationToken.None));
    }

    private static EtcdCluster Connect(EtcdTestCluster etcd) => new(etcd.ClientUrls, TimeSpan.FromSeconds(2), NullLogger.Instance);

    private static Task PutRawAsync(EtcdCluster cluster, string key, string value) =>
        cluster.CallAsync(
            (channel, options) => new KV.KVClient(channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(Encoding.UTF8.GetBytes(value)) }, options).ResponseAsync,
            CancellationToken.None);

    private static async Task Eventually(Func<bool> condition, int seconds = 10)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"the condition did not hold within {seconds} s");
            await Task.Delay(20);
        }
    }
}
