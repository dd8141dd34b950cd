using Bulwark.Config.Storage;

namespace Bulwark.Config.Tests.Storage;

/// <summary>
/// What every <see cref="IConfigStore"/> must do, whatever database is behind it: the SQLite and
/// PostgreSQL stores both derive from this class, each test on a new, empty store.
/// </summary>
public abstract class ConfigStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    protected abstract IConfigStore Store { get; }

    private Task<ConfigWriteResult> PutAsync(string key, string value, long expected = 0, long at = 1_000) =>
        Store.PutAsync(key, value, expected, "tester", "because", at, None);

    private async Task<ConfigChange> SetAsync(string key, string value, long expected = 0)
    {
        var result = await PutAsync(key, value, expected);
        Assert.Equal(ConfigWriteOutcome.Written, result.Outcome);
        return result.Change!;
    }

    private async Task<ConfigChange> DeleteAsync(string key, long expected)
    {
        var result = await Store.DeleteAsync(key, expected, "tester", "gone", 2_000, None);
        Assert.Equal(ConfigWriteOutcome.Written, result.Outcome);
        return result.Change!;
    }

    [Fact]
    public async Task State_EmptyStore_RevisionZeroNeverCompacted()
    {
        Assert.Equal(new ConfigStoreState(0, 0), await Store.StateAsync(None));
    }

    [Fact]
    public async Task Put_NewKeys_TakeSuccessiveStoreWideRevisions()
    {
        var a = await SetAsync("edge/allow", "[\"10.0.0.0/8\"]");
        var b = await SetAsync("feed/page-size", "50");
        var a2 = await SetAsync("edge/allow", "[]", expected: a.Revision);

        Assert.Equal(new[] { 1L, 2L, 3L }, new[] { a.Revision, b.Revision, a2.Revision });
        Assert.Equal(new ConfigChange("edge/allow", "[]", 3, false, 1_000, "tester", "because"), a2);
        var read = await Store.GetAsync("edge/allow", None);
        Assert.Equal(a2, read.Latest);
        Assert.Equal(3, read.Revision);
    }

    [Fact]
    public async Task Put_StaleOrWrongExpectedVersion_RefusedWithTheCurrentAndTakesNoRevision()
    {
        var first = await SetAsync("k", "1");
        var second = await SetAsync("k", "2", expected: first.Revision);

        var stale = await PutAsync("k", "3", expected: first.Revision);
        var zero = await PutAsync("k", "3", expected: 0);
        var unknown = await PutAsync("never", "x", expected: 7);

        Assert.Equal(ConfigWriteOutcome.VersionMismatch, stale.Outcome);
        Assert.Equal(second, stale.Current);
        Assert.Equal(ConfigWriteOutcome.VersionMismatch, zero.Outcome);
        Assert.Equal(ConfigWriteOutcome.VersionMismatch, unknown.Outcome);
        Assert.Null(unknown.Current);
        Assert.Equal(2, (await Store.StateAsync(None)).Revision);
        Assert.Equal(3, (await SetAsync("other", "x")).Revision);
    }

    [Fact]
    public async Task Get_NeverHeld_NullAndDeleted_TheTombstone()
    {
        var set = await SetAsync("k", "v");
        var tombstone = await DeleteAsync("k", set.Revision);

        Assert.Null((await Store.GetAsync("never", None)).Latest);
        var read = await Store.GetAsync("k", None);
        Assert.Equal(tombstone, read.Latest);
        Assert.True(read.Latest!.Deleted);
        Assert.Equal("", read.Latest.Value);
        Assert.Equal(2, read.Latest.Revision);
    }

    [Fact]
    public async Task Delete_NeverHeldAlreadyDeletedOrStale_Refused()
    {
        var set = await SetAsync("k", "v");
        var stale = await Store.DeleteAsync("k", set.Revision + 5, "tester", "r", 1, None);
        var tombstone = await DeleteAsync("k", set.Revision);

        var never = await Store.DeleteAsync("never", 0, "tester", "r", 1, None);
        var again = await Store.DeleteAsync("k", tombstone.Revision, "tester", "r", 1, None);

        Assert.Equal(ConfigWriteOutcome.VersionMismatch, stale.Outcome);
        Assert.Equal(set, stale.Current);
        Assert.Equal(ConfigWriteOutcome.NeverHeld, never.Outcome);
        Assert.Null(never.Current);
        Assert.Equal(ConfigWriteOutcome.AlreadyDeleted, again.Outcome);
        Assert.Equal(tombstone, again.Current);
    }

    [Fact]
    public async Task Put_AfterDelete_WithZeroOrTheTombstonesVersion()
    {
        var set = await SetAsync("k", "v");
        var tombstone = await DeleteAsync("k", set.Revision);
        var revived = await SetAsync("k", "again", expected: 0);
        var tombstone2 = await DeleteAsync("k", revived.Revision);

        var viaVersion = await SetAsync("k", "third", expected: tombstone2.Revision);

        Assert.Equal(tombstone.Revision + 1, revived.Revision);
        Assert.Equal("third", (await Store.GetAsync("k", None)).Latest!.Value);
        Assert.Equal(5, viaVersion.Revision);
    }

    [Fact]
    public async Task History_NewestFirst_PagedByRevision()
    {
        var v1 = await SetAsync("k", "1");
        await SetAsync("other", "x");
        var v2 = await SetAsync("k", "2", v1.Revision);
        var gone = await DeleteAsync("k", v2.Revision);

        var first = await Store.HistoryAsync("k", 0, 2, None);
        var second = await Store.HistoryAsync("k", first.Changes[^1].Revision, 2, None);

        Assert.Equal([gone, v2], first.Changes);
        Assert.True(first.More);
        Assert.Equal([v1], second.Changes);
        Assert.False(second.More);
        Assert.True(second.EverHeld);
        Assert.False((await Store.HistoryAsync("never", 0, 10, None)).EverHeld);
        Assert.False((await Store.HistoryAsync("never", 3, 10, None)).EverHeld);
        var below = await Store.HistoryAsync("k", v1.Revision, 10, None);
        Assert.Empty(below.Changes);
        Assert.True(below.EverHeld);
    }

    [Fact]
    public async Task List_PrefixInKeyOrder_WithTombstones_Paged()
    {
        await SetAsync("b/2", "x");
        await SetAsync("a/1", "x");
        var deleted = await SetAsync("b/1", "x");
        await DeleteAsync("b/1", deleted.Revision);
        await SetAsync("b/3", "x");
        await SetAsync("c", "x");

        var page = await Store.ListAsync("b/", "", 2, 0, None);
        var next = await Store.ListAsync("b/", page.Entries[^1].Key, 2, page.Revision, None);
        var all = await Store.ListAsync("", "", 100, 0, None);

        Assert.Equal(["b/1", "b/2"], page.Entries.Select(e => e.Key));
        Assert.True(page.Entries[0].Deleted);
        Assert.True(page.More);
        Assert.Equal(6, page.Revision);
        Assert.Equal(["b/3"], next.Entries.Select(e => e.Key));
        Assert.False(next.More);
        Assert.Equal(["a/1", "b/1", "b/2", "b/3", "c"], all.Entries.Select(e => e.Key));
    }

    [Fact]
    public async Task List_PrefixCharactersAreLiteral_NotPatterns()
    {
        await SetAsync("a_b/x", "1");
        await SetAsync("axb/x", "2");
        await SetAsync("a.b/x", "3");
        await SetAsync("a-b", "4");

        Assert.Equal(["a_b/x"], (await Store.ListAsync("a_", "", 10, 0, None)).Entries.Select(e => e.Key));
        Assert.Equal(["a.b/x"], (await Store.ListAsync("a.", "", 10, 0, None)).Entries.Select(e => e.Key));
        // Byte order on every database: '-' (0x2D) < '.' (0x2E) < '_' (0x5F) < 'x'.
        Assert.Equal(["a-b", "a.b/x", "a_b/x", "axb/x"], (await Store.ListAsync("a", "", 10, 0, None)).Entries.Select(e => e.Key));
    }

    [Fact]
    public async Task List_AtAnEarlierRevision_TheSnapshotThen()
    {
        var a1 = await SetAsync("a", "1");
        var b1 = await SetAsync("b", "1");
        await SetAsync("a", "2", a1.Revision);
        await DeleteAsync("b", b1.Revision);
        await SetAsync("c", "1");

        var then = await Store.ListAsync("", "", 10, b1.Revision, None);
        var now = await Store.ListAsync("", "", 10, 0, None);

        Assert.Equal([a1, b1], then.Entries);
        Assert.Equal(2, then.Revision);
        Assert.Equal(["a=2", "b=deleted", "c=1"], now.Entries.Select(e => e.Key + "=" + (e.Deleted ? "deleted" : e.Value)));
        Assert.True((await Store.ListAsync("", "", 10, 99, None)).Ahead);
    }

    [Fact]
    public async Task ChangesAfter_InRevisionOrder_UnderThePrefix_WithTheStateRead()
    {
        await SetAsync("x/a", "1");
        await SetAsync("y/a", "1");
        var xb = await SetAsync("x/b", "1");
        var xa = await SetAsync("x/a", "2", 1);

        var changes = await Store.ChangesAfterAsync("x/", 1, 10, None);
        var limited = await Store.ChangesAfterAsync("", 0, 2, None);

        Assert.Equal([xb, xa], changes.Changes);
        Assert.Equal(new ConfigStoreState(4, 0), changes.State);
        Assert.Equal([1L, 2L], limited.Changes.Select(c => c.Revision));
        Assert.Empty((await Store.ChangesAfterAsync("", 4, 10, None)).Changes);
    }

    [Fact]
    public async Task Compact_KeepsEachKeysLatestAsOfTheRevision_TombstonesIncluded()
    {
        var a1 = await SetAsync("a", "1");                 // 1: superseded by 2 — removed
        var a2 = await SetAsync("a", "2", a1.Revision);    // 2: a's latest at 4 — kept
        var b1 = await SetAsync("b", "1");                 // 3: superseded by the tombstone — removed
        var bGone = await DeleteAsync("b", b1.Revision);   // 4: b's latest, a tombstone — kept
        var a3 = await SetAsync("a", "3", a2.Revision);    // 5: after the compaction revision — kept

        var compaction = await Store.CompactAsync(4, None);

        Assert.Equal(4, compaction.CompactedRevision);
        Assert.Equal(2, compaction.Removed);
        Assert.Equal(new ConfigStoreState(5, 4), await Store.StateAsync(None));
        Assert.Equal([a3, a2], (await Store.HistoryAsync("a", 0, 10, None)).Changes);
        var b = await Store.HistoryAsync("b", 0, 10, None);
        Assert.Equal([bGone], b.Changes);
        Assert.Equal(4, b.CompactedRevision);
        Assert.Equal(bGone, (await Store.GetAsync("b", None)).Latest);
        // The snapshot at the compacted revision is still whole; before it, gone.
        Assert.Equal([a2, bGone], (await Store.ListAsync("", "", 10, 4, None)).Entries);
        Assert.True((await Store.ListAsync("", "", 10, 3, None)).Compacted);
    }

    [Fact]
    public async Task Compact_AboveTheRevisionRefused_AtOrBelowTheCompactedRemovesNothing()
    {
        var a1 = await SetAsync("a", "1");
        await SetAsync("a", "2", a1.Revision);
        await SetAsync("a", "3", 2);

        var above = await Store.CompactAsync(4, None);
        var first = await Store.CompactAsync(2, None);
        var again = await Store.CompactAsync(1, None);
        var latestOnly = await Store.CompactAsync(3, None);

        Assert.True(above.AboveRevision);
        Assert.Equal(0, above.CompactedRevision);
        Assert.Equal((2L, 1L), (first.CompactedRevision, first.Removed));
        Assert.Equal((2L, 0L), (again.CompactedRevision, again.Removed));
        Assert.Equal((3L, 1L), (latestOnly.CompactedRevision, latestOnly.Removed));
        Assert.Equal(["3"], (await Store.HistoryAsync("a", 0, 10, None)).Changes.Select(c => c.Value));
        // Revisions go on from where they were: compaction never gives one back.
        Assert.Equal(4, (await SetAsync("b", "1")).Revision);
    }

    [Fact]
    public async Task Put_ConcurrentWriters_EachTakesADistinctRevisionWithNoGaps()
    {
        const int Writers = 12;
        var results = await Task.WhenAll(Enumerable.Range(0, Writers).Select(i => Task.Run(() => PutAsync($"k{i}", "v"))));

        Assert.All(results, r => Assert.Equal(ConfigWriteOutcome.Written, r.Outcome));
        Assert.Equal(Enumerable.Range(1, Writers).Select(i => (long)i), results.Select(r => r.Change!.Revision).Order());
        var changes = await Store.ChangesAfterAsync("", 0, 100, None);
        Assert.Equal(Enumerable.Range(1, Writers).Select(i => (long)i), changes.Changes.Select(c => c.Revision));
    }

    [Fact]
    public async Task Put_ConcurrentCompareAndSetOnOneKey_ExactlyOneWins()
    {
        var start = await SetAsync("k", "0");
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => PutAsync("k", $"v{i}", start.Revision))));

        var won = Assert.Single(results, r => r.Outcome == ConfigWriteOutcome.Written);
        Assert.All(results.Where(r => r != won), r => Assert.Equal(ConfigWriteOutcome.VersionMismatch, r.Outcome));
        Assert.Equal(won.Change, (await Store.GetAsync("k", None)).Latest);
        Assert.Equal(2, (await Store.StateAsync(None)).Revision);
    }

    [Fact]
    public async Task Values_UnicodeAndLargeValues_RoundTrip()
    {
        var large = new string('é', ConfigLimits.ValueBytesMax / 2);
        await SetAsync("text", "naïve – 日本 🏦");
        await SetAsync("large", large);

        Assert.Equal("naïve – 日本 🏦", (await Store.GetAsync("text", None)).Latest!.Value);
        Assert.Equal(large, (await Store.GetAsync("large", None)).Latest!.Value);
    }
}
