using Bulwark.Platform.Configuration;

namespace Bulwark.Platform.Tests.Configuration;

/// <summary>A setting's value through the answers a key can have, with the service away (no network needed).</summary>
public sealed class ConfigSettingTests
{
    private const string Key = "edge/staff-ranges";

    [Fact]
    public async Task Current_NeverSetAndNoCache_TheDefault()
    {
        await using var fixture = new ConfigClientFixture();
        var client = fixture.Create();

        using var setting = client.Setting(Key, text => text, "default");

        Assert.Equal("default", setting.Current);
        Assert.Null(setting.Version);
        Assert.False(setting.IsMalformed);
    }

    [Fact]
    public async Task Current_MalformedValueInTheCache_DefaultKept_CountedOnce()
    {
        await using var fixture = new ConfigClientFixture();
        ConfigCacheFile.Save(fixture.CachePath, new ConfigCacheContent([new ConfigEntry(Key, "not a range", 3, false)],
            new Dictionary<string, long> { ["edge/"] = 3 }, fixture.Time.GetUtcNow()));
        var client = fixture.Create();

        using var setting = client.Setting<int>(Key, _ => throw new FormatException("not a range"), 0);
        using var again = client.Watch(Key, _ => { });

        Assert.Equal(0, setting.Current);
        Assert.True(setting.IsMalformed);
        Assert.Equal(1, client.MalformedValueCount);
    }

    [Fact]
    public async Task Changed_RaisedWithTheNewValue()
    {
        await using var fixture = new ConfigClientFixture();
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put(Key, "10.0.0.0/8");
        await fixture.RegisterAsync(host.Address);
        var client = fixture.Create();
        await ConfigClientFixture.StartAsync(client);
        using var setting = client.Setting(Key, text => text, "");
        var changed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        setting.Changed += value => changed.TrySetResult(value);

        host.Service.Put(Key, "192.168.0.0/16");

        Assert.Equal("192.168.0.0/16", await changed.Task.WaitAsync(ConfigClientFixture.WaitMax));
        Assert.Equal(2, setting.Version);
    }
}
