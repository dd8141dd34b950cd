using Bulwark.Platform.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace Bulwark.Platform.Tests.Configuration;

/// <summary>The R14 rules, on the view alone: what each answer of the service makes of a key.</summary>
public sealed class ConfigViewTests
{
    private const string Prefix = "edge/";
    private const string Ranges = "edge/staff-ranges";
    private const string Other = "edge/other";

    private static ConfigView View() =>
        new(new ConfigClientOptions { Prefixes = [Prefix, "feed/"] }, new FakeTimeProvider());

    private static ConfigEntry Value(string key, string value, long version) => new(key, value, version, Deleted: false);

    private static ConfigEntry Tombstone(string key, long version) => new(key, "", version, Deleted: true);

    [Fact]
    public void Answer_BeforeTheServiceConfirmedAnything_UnknownUnavailableWithTheCachedValue()
    {
        var view = View();
        view.Load([Value(Ranges, "10.0.0.0/8", 4)], new Dictionary<string, long> { [Prefix] = 4 });

        var answer = Assert.IsType<ConfigUnknown>(view.Answer(Ranges));

        Assert.Equal(ConfigUnknownReason.Unavailable, answer.Reason);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 4), answer.LastGood);
        Assert.Equal(4, view.RevisionOf(Prefix));
    }

    [Fact]
    public void ApplyResync_LacksAKeyHeldWithAValue_NoTombstone_UnknownUntrustedWithTheLastGoodValue()
    {
        var view = View();
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 4), Value(Other, "x", 5)], 5);

        var result = view.ApplyResync(Prefix, [Value(Other, "x", 5)], 9);

        Assert.Equal([Ranges], result.Untrusted);
        var answer = Assert.IsType<ConfigUnknown>(view.Answer(Ranges));
        Assert.Equal(ConfigUnknownReason.UntrustedNotFound, answer.Reason);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 4), answer.LastGood);
        Assert.Equal(new ConfigValue("x", 5), view.Answer(Other));
        Assert.Equal([Ranges], view.UntrustedKeys());
    }

    [Fact]
    public void ApplyResync_UntrustedKeyNamedAgain_TrustedAgain()
    {
        var view = View();
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 4)], 4);
        view.ApplyResync(Prefix, [], 6);

        var result = view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 4)], 7);

        Assert.Empty(result.Untrusted);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 4), view.Answer(Ranges));
        Assert.Empty(view.UntrustedKeys());
    }

    [Fact]
    public void ApplyResync_Tombstone_Deleted()
    {
        var view = View();
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 4)], 4);

        var result = view.ApplyResync(Prefix, [Tombstone(Ranges, 8)], 8);

        Assert.Empty(result.Untrusted);
        Assert.True(result.ContentChanged);
        Assert.Equal(new ConfigDeleted(8), view.Answer(Ranges));
    }

    [Fact]
    public void ApplyChange_Tombstone_Deleted()
    {
        var view = View();
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 4)], 4);

        view.ApplyChange(Prefix, Tombstone(Ranges, 5));

        Assert.Equal(new ConfigDeleted(5), view.Answer(Ranges));
        Assert.Equal(5, view.RevisionOf(Prefix));
    }

    [Fact]
    public void ApplyResync_BelowTheHighestRevisionSeen_RefusedAndTheLastGoodValueKept()
    {
        var view = View();
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 12)], 12);

        var result = view.ApplyResync(Prefix, [Value(Ranges, "192.168.0.0/16", 3)], 5);

        Assert.True(result.Refused);
        var answer = Assert.IsType<ConfigUnknown>(view.Answer(Ranges));
        Assert.Equal(ConfigUnknownReason.RevisionWentBack, answer.Reason);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 12), answer.LastGood);
        Assert.Equal(12, view.RevisionOf(Prefix));
    }

    [Fact]
    public void ApplyProgress_BelowTheHighestRevisionSeen_RefusedUntilTheServiceIsBackAtIt()
    {
        var view = View();
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 12)], 12);

        Assert.True(view.ApplyProgress(Prefix, 7).Refused);
        Assert.Equal(ConfigUnknownReason.RevisionWentBack, Assert.IsType<ConfigUnknown>(view.Answer(Ranges)).Reason);

        Assert.False(view.ApplyProgress(Prefix, 12).Refused);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 12), view.Answer(Ranges));
    }

    [Fact]
    public void ApplyChange_AtOrBelowTheRevisionSeen_TheSameChangeIsIgnored_AnotherIsRefused()
    {
        var view = View();
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 12)], 12);

        Assert.Equal(ConfigApplyResult.Nothing, view.ApplyChange(Prefix, Value(Ranges, "10.0.0.0/8", 12)));
        Assert.True(view.ApplyChange(Prefix, Value(Other, "y", 11)).Refused);
        Assert.Equal(ConfigUnknownReason.RevisionWentBack, Assert.IsType<ConfigUnknown>(view.Answer(Ranges)).Reason);
    }

    [Fact]
    public void ApplyChange_TheSameChangeAgainForAnUntrustedKey_TrustedAgain()
    {
        var view = View();
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 4)], 4);
        view.ApplyResync(Prefix, [], 6);

        Assert.False(view.ApplyChange(Prefix, Value(Ranges, "10.0.0.0/8", 4)).Refused);

        Assert.Equal(new ConfigValue("10.0.0.0/8", 4), view.Answer(Ranges));
    }

    [Fact]
    public void ApplyResync_OlderVersionOfAHeldKey_KeepsTheHeldOne()
    {
        var view = View();
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 12)], 12);

        var result = view.ApplyResync(Prefix, [Value(Ranges, "0.0.0.0/0", 3)], 14);

        Assert.Equal([Ranges], result.OlderKeys);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 12), view.Answer(Ranges));
    }

    [Fact]
    public void Answer_FreshViewWithoutTheKey_NeverSet()
    {
        var view = View();
        view.ApplyResync(Prefix, [], 3);

        var answer = Assert.IsType<ConfigUnknown>(view.Answer(Ranges));

        Assert.Equal(ConfigUnknownReason.NeverSet, answer.Reason);
        Assert.Null(answer.LastGood);
    }

    [Fact]
    public void Answer_StaleView_UnknownUnavailableWithTheLastGoodValue()
    {
        var view = View();
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 4)], 4);

        Assert.True(view.MarkStale(Prefix));

        var answer = Assert.IsType<ConfigUnknown>(view.Answer(Ranges));
        Assert.Equal(ConfigUnknownReason.Unavailable, answer.Reason);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 4), answer.LastGood);
        Assert.False(view.MarkStale(Prefix));
    }

    [Fact]
    public void Answer_KeyUnderNoWatchedPrefix_Throws()
    {
        var view = View();

        Assert.Throws<ArgumentException>(() => view.Answer("ledger/limits"));
        Assert.Throws<ArgumentException>(() => view.Answer(""));
    }

    [Fact]
    public void ApplyResync_OtherPrefixesKeysAreLeftAlone()
    {
        var view = View();
        view.ApplyResync("feed/", [Value("feed/page-size", "50", 2)], 2);
        view.ApplyResync(Prefix, [Value(Ranges, "10.0.0.0/8", 4)], 4);

        var result = view.ApplyResync(Prefix, [], 5);

        Assert.Equal([Ranges], result.Untrusted);
        Assert.Equal(new ConfigValue("50", 2), view.Answer("feed/page-size"));
    }
}
