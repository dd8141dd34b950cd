using Bulwark.Config.Protos;
using Grpc.Core;

namespace Bulwark.Config.Tests.Grpc;

/// <summary>Compaction over gRPC, on a host of its own (it touches every key's history).</summary>
public sealed class CompactionTests
{
    [Fact]
    public async Task Compact_RemovesSupersededHistory_KeepsTombstones_AndOldSnapshotsAreOutOfRange()
    {
        await using var host = await ConfigTestHost.StartAsync();
        var client = host.Client;
        var a1 = (await client.PutAsync(new PutRequest { Key = "a", Value = "1", Reason = "r" })).Entry;
        var a2 = (await client.PutAsync(new PutRequest { Key = "a", Value = "2", ExpectedVersion = a1.Version, Reason = "r" })).Entry;
        var b = (await client.PutAsync(new PutRequest { Key = "b", Value = "1", Reason = "r" })).Entry;
        var gone = (await client.DeleteAsync(new DeleteRequest { Key = "b", ExpectedVersion = b.Version, Reason = "r" })).Entry;

        var compaction = await client.CompactAsync(new CompactRequest { Revision = gone.Version });

        Assert.Equal(gone.Version, compaction.CompactedRevision);
        Assert.Equal(2, compaction.Removed);
        var history = await client.HistoryAsync(new HistoryRequest { Key = "b" });
        Assert.Equal([gone.Version], history.Changes.Select(c => c.Version));
        Assert.Equal(gone.Version, history.CompactedRevision);
        Assert.True((await client.GetAsync(new GetRequest { Key = "b" })).Entry.Deleted);
        Assert.Equal("2", (await client.GetAsync(new GetRequest { Key = "a" })).Entry.Value);
        Assert.Equal(a2.Version, (await client.HistoryAsync(new HistoryRequest { Key = "a" })).Changes.Single().Version);
        await RpcAssert.FailsAsync(StatusCode.OutOfRange, () => client.ListAsync(new ListRequest { AtRevision = a2.Version }).ResponseAsync);
    }
}
