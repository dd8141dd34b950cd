using Bulwark.Edge.BankStatus;

namespace Bulwark.Edge.Tests.Staff.Ops;

/// <summary>The customer edge's banner read from configuration (R14): last good kept through untrusted answers and malformed values.</summary>
public sealed class StatusBannerConfigurationTests
{
    private const string Message = "Payments are taking longer than usual to appear.";

    [Fact]
    public async Task Banner_ConfigurationRestoredWithoutTheKey_NotFoundIsNotBelieved_TheBannerStays()
    {
        await using var host = await OpsHost.StartAsync();
        await host.ConfigClient().PutAsync(new Config.Protos.PutRequest { Key = StatusBanner.Key, Value = Banner(Message), Reason = "incident" });
        await OpsHost.WaitUntilAsync(async () => await host.BannerMessageAsync() == Message, "the banner");

        // The configuration service comes back from a backup that never held the banner: "not found".
        await host.StopConfigAsync();
        await host.StartConfigAsync("config-old-backup");
        var values = host.ConfigValues;
        await OpsHost.WaitUntilAsync(() => Task.FromResult(values.RevisionWentBackCount + values.UntrustedNotFoundCount > 0), "the edge's client to refuse the restored store's answers");

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(Message, await host.BannerMessageAsync());
        }
    }

    [Fact]
    public async Task Banner_MalformedValueInConfiguration_KeepsTheLastGoodBanner_AndIsCounted()
    {
        await using var host = await OpsHost.StartAsync();
        var put = await host.ConfigClient().PutAsync(new Config.Protos.PutRequest { Key = StatusBanner.Key, Value = Banner(Message), Reason = "incident" });
        await OpsHost.WaitUntilAsync(async () => await host.BannerMessageAsync() == Message, "the banner");
        var malformedBefore = host.ConfigValues.MalformedValueCount;

        foreach (var bad in new[] { "{not json", """{"level":"shouting","message":"x","source":"manual"}""" })
        {
            put = await host.ConfigClient().PutAsync(new Config.Protos.PutRequest { Key = StatusBanner.Key, Value = bad, ExpectedVersion = put.Entry.Version, Reason = "a typo" });
            var expected = malformedBefore + 1;
            await OpsHost.WaitUntilAsync(() => Task.FromResult(host.ConfigValues.MalformedValueCount >= expected), "the malformed value to be counted");
            malformedBefore = host.ConfigValues.MalformedValueCount;
            Assert.Equal(Message, await host.BannerMessageAsync());
        }

        // A deliberate deletion is believed.
        await host.ConfigClient().DeleteAsync(new Config.Protos.DeleteRequest { Key = StatusBanner.Key, ExpectedVersion = put.Entry.Version, Reason = "over" });
        await OpsHost.WaitUntilAsync(async () => await host.BannerMessageAsync() is null, "the deletion to clear the banner");
    }

    private static string Banner(string message) => new StatusBanner(StatusBanner.Warning, message, StatusBanner.Manual, null).ToJson();
}
