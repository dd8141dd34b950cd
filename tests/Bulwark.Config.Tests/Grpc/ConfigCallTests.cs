using Bulwark.Config.Protos;
using Grpc.Core;

namespace Bulwark.Config.Tests.Grpc;

/// <summary>The unary calls over real gRPC: the three answers, compare-and-set, history, list and compaction, and the statuses config.proto names.</summary>
public sealed class ConfigCallTests(ConfigHostFixture fixture) : IClassFixture<ConfigHostFixture>
{
    private Protos.Config.ConfigClient Client => fixture.Host.Client;

    private static string NewKey(string name = "k") => $"tests/{Guid.NewGuid():N}/{name}";

    private async Task<Entry> SetAsync(string key, string value, long expected = 0, Metadata? headers = null) =>
        (await Client.PutAsync(new PutRequest { Key = key, Value = value, ExpectedVersion = expected, Reason = "test" }, headers)).Entry;

    [Fact]
    public async Task Get_AValue_ADeletedKey_AndAKeyNeverHeld_AreThreeAnswers()
    {
        var key = NewKey();
        var set = await SetAsync(key, "{\"on\":true}");
        var value = await Client.GetAsync(new GetRequest { Key = key });
        await Client.DeleteAsync(new DeleteRequest { Key = key, ExpectedVersion = set.Version, Reason = "switched off" });

        var deleted = await Client.GetAsync(new GetRequest { Key = key });
        var never = await RpcAssert.FailsAsync(StatusCode.NotFound, () => Client.GetAsync(new GetRequest { Key = NewKey() }).ResponseAsync);

        Assert.Equal("{\"on\":true}", value.Entry.Value);
        Assert.False(value.Entry.Deleted);
        Assert.True(value.Revision >= set.Version);
        Assert.True(deleted.Entry.Deleted);
        Assert.Equal("", deleted.Entry.Value);
        Assert.Equal("switched off", deleted.Entry.Reason);
        Assert.True(deleted.Entry.Version > set.Version);
        Assert.Contains("never held", never.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_StaleVersion_FailedPreconditionNamingTheCurrentVersion()
    {
        var key = NewKey();
        var first = await SetAsync(key, "1");
        var second = await SetAsync(key, "2", first.Version);

        var stale = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => SetAsync(key, "3", first.Version));
        var zero = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => SetAsync(key, "3", 0));

        Assert.Contains($"current version is {second.Version}", stale.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(second.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), stale.Trailers.GetValue("bulwark-current-version"));
        Assert.Contains($"current version is {second.Version}", zero.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_RetriedAfterSuccess_RefusedSoItCannotApplyTwice()
    {
        var key = NewKey();
        var request = new PutRequest { Key = key, Value = "v", ExpectedVersion = 0, Reason = "first" };
        var written = await Client.PutAsync(request);

        var retry = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Client.PutAsync(request).ResponseAsync);

        Assert.Contains($"current version is {written.Entry.Version}", retry.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_RecordsTheClaimedActorAsUnverified_OrUnauthenticated()
    {
        var key = NewKey();
        var anonymous = await SetAsync(key, "1");
        var claimed = await SetAsync(key, "2", anonymous.Version, new Metadata { { "bulwark-actor", "alice" } });

        Assert.Equal("unauthenticated", anonymous.ChangedBy);
        Assert.Equal("alice (unverified)", claimed.ChangedBy);
        Assert.True(claimed.ChangedAtMs > 0);
    }

    [Fact]
    public async Task Delete_KeyNeverHeld_NotFound_AlreadyDeletedOrStale_FailedPrecondition()
    {
        var key = NewKey();
        var set = await SetAsync(key, "v");

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Client.DeleteAsync(new DeleteRequest { Key = NewKey(), ExpectedVersion = 1, Reason = "r" }).ResponseAsync);
        var stale = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Client.DeleteAsync(new DeleteRequest { Key = key, ExpectedVersion = set.Version - 1, Reason = "r" }).ResponseAsync);
        var tombstone = (await Client.DeleteAsync(new DeleteRequest { Key = key, ExpectedVersion = set.Version, Reason = "r" })).Entry;
        var again = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Client.DeleteAsync(new DeleteRequest { Key = key, ExpectedVersion = tombstone.Version, Reason = "r" }).ResponseAsync);

        Assert.Contains($"current version is {set.Version}", stale.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("already deleted", again.Status.Detail, StringComparison.Ordinal);
        Assert.Contains($"current version is {tombstone.Version}", again.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_ValueOverTheSizeLimit_ResourceExhausted_AndAtTheLimitAccepted()
    {
        var key = NewKey();
        await SetAsync(key, new string('x', ConfigLimits.ValueBytesMax));

        var error = await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => SetAsync(NewKey(), new string('é', ConfigLimits.ValueBytesMax / 2 + 1)));

        Assert.Contains("value is 65538 bytes", error.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Upper/case")]
    [InlineData("has space")]
    [InlineData("/leading")]
    [InlineData("trailing/")]
    [InlineData("empty//segment")]
    [InlineData("star*")]
    [InlineData("_leading-underscore")]
    public async Task Calls_MalformedKey_InvalidArgumentNamingTheKey(string key)
    {
        await RpcAssert.InvalidAsync("key", () => Client.GetAsync(new GetRequest { Key = key }).ResponseAsync);
        await RpcAssert.InvalidAsync("key", () => SetAsync(key, "v"));
        await RpcAssert.InvalidAsync("key", () => Client.HistoryAsync(new HistoryRequest { Key = key }).ResponseAsync);
    }

    [Fact]
    public async Task Calls_BadFields_InvalidArgumentNamingEach()
    {
        var key = NewKey();
        await RpcAssert.InvalidAsync("key", () => Client.GetAsync(new GetRequest { Key = new string('a', ConfigLimits.KeyLengthMax + 1) }).ResponseAsync);
        await RpcAssert.InvalidAsync("reason", () => Client.PutAsync(new PutRequest { Key = key, Value = "v" }).ResponseAsync);
        await RpcAssert.InvalidAsync("reason", () => Client.PutAsync(new PutRequest { Key = key, Value = "v", Reason = new string('r', ConfigLimits.ReasonLengthMax + 1) }).ResponseAsync);
        await RpcAssert.InvalidAsync("expected_version", () => Client.PutAsync(new PutRequest { Key = key, Value = "v", Reason = "r", ExpectedVersion = -1 }).ResponseAsync);
        await RpcAssert.InvalidAsync("reason", () => Client.DeleteAsync(new DeleteRequest { Key = key, ExpectedVersion = 1 }).ResponseAsync);
        await RpcAssert.InvalidAsync("prefix", () => Client.ListAsync(new ListRequest { Prefix = "A" }).ResponseAsync);
        await RpcAssert.InvalidAsync("limit", () => Client.ListAsync(new ListRequest { Limit = ConfigLimits.ListLimitMax + 1 }).ResponseAsync);
        await RpcAssert.InvalidAsync("limit", () => Client.HistoryAsync(new HistoryRequest { Key = key, Limit = -1 }).ResponseAsync);
        await RpcAssert.InvalidAsync("revision", () => Client.CompactAsync(new CompactRequest { Revision = 0 }).ResponseAsync);
        await RpcAssert.InvalidAsync("revision", () => Client.CompactAsync(new CompactRequest { Revision = long.MaxValue }).ResponseAsync);
        await RpcAssert.InvalidAsync("at_revision", () => Client.ListAsync(new ListRequest { AtRevision = long.MaxValue }).ResponseAsync);
        await RpcAssert.InvalidAsync("bulwark-actor", () => SetAsync(key, "v", 0, new Metadata { { "bulwark-actor", new string('a', ConfigLimits.ActorLengthMax + 1) } }));
    }

    [Fact]
    public async Task History_NewestFirstPaged_AndNotFoundForAKeyNeverHeld()
    {
        var key = NewKey();
        var v1 = await SetAsync(key, "1");
        var v2 = await SetAsync(key, "2", v1.Version);
        var v3 = await SetAsync(key, "3", v2.Version);

        var first = await Client.HistoryAsync(new HistoryRequest { Key = key, Limit = 2 });
        var second = await Client.HistoryAsync(new HistoryRequest { Key = key, Limit = 2, BeforeRevision = first.Changes[^1].Version });

        Assert.Equal(["3", "2"], first.Changes.Select(c => c.Value));
        Assert.True(first.More);
        Assert.Equal(["1"], second.Changes.Select(c => c.Value));
        Assert.False(second.More);
        Assert.Equal(v3.Version, first.Changes[0].Version);
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Client.HistoryAsync(new HistoryRequest { Key = NewKey() }).ResponseAsync);
    }

    [Fact]
    public async Task List_PagesReadOneSnapshot()
    {
        var prefix = $"tests/{Guid.NewGuid():N}/";
        foreach (var name in new[] { "a", "b", "c" })
        {
            await SetAsync(prefix + name, name);
        }
        var first = await Client.ListAsync(new ListRequest { Prefix = prefix, Limit = 2 });
        var b = first.Entries[1];
        await SetAsync(prefix + "b", "changed", b.Version);
        await SetAsync(prefix + "d", "new");

        var second = await Client.ListAsync(new ListRequest { Prefix = prefix, Limit = 2, AfterKey = first.Entries[^1].Key, AtRevision = first.Revision });
        var now = await Client.ListAsync(new ListRequest { Prefix = prefix });

        Assert.True(first.More);
        Assert.Equal([prefix + "c"], second.Entries.Select(e => e.Key));
        Assert.False(second.More);
        Assert.Equal(["a", "changed", "c", "new"], now.Entries.Select(e => e.Value));
    }
}
