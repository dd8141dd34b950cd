using OpenQA.Selenium;

namespace Bulwark.Edge.Tests.WebApp;

/// <summary>
/// The web app's day headings and times are the customer's (Europe/London), checked in headless
/// Chromium with the device set to New York, so the device's own zone cannot make the test pass.
/// </summary>
public sealed class WebAppDaysBrowserTests
{
    [Fact]
    public async Task DayLabelsAndTimes_DeviceInNewYork_FollowLondon()
    {
        await using var host = await EdgeHost.StartAsync();
        using var chromium = HeadlessChromium.Start();
        var driver = chromium.Driver;
        driver.ExecuteCdpCommand("Emulation.setTimezoneOverride", new Dictionary<string, object?> { ["timezoneId"] = "America/New_York" });
        driver.Manage().Timeouts().AsynchronousJavaScript = TimeSpan.FromSeconds(30);
        driver.Navigate().GoToUrl(host.BaseAddress);

        // 23:30 UTC on 14 June is 00:30 on 15 June in London (BST) and 19:30 on 14 June in New York.
        var result = (IReadOnlyCollection<object>?)((IJavaScriptExecutor)driver).ExecuteAsyncScript("""
            const done = arguments[arguments.length - 1];
            import('/js/format.js').then((format) => {
              const now = new Date('2030-06-15T08:00:00Z');
              done([
                String(new Date().getTimezoneOffset()),
                format.dayLabel(new Date('2030-06-14T23:30:00Z'), now),
                format.dayLabel(new Date('2030-06-14T22:30:00Z'), now),
                format.dayKey(new Date('2030-06-14T23:30:00Z')),
                format.time(new Date('2030-06-14T23:30:00Z')),
                format.dayLabel(new Date('2030-01-01T00:30:00Z'), new Date('2030-01-01T23:59:00Z')),
              ]);
            }, (error) => done(['error', String(error)]));
            """);
        Assert.NotNull(result);
        var values = result.Select(value => value?.ToString() ?? "").ToArray();

        Assert.NotEqual("0", values[0]);
        Assert.Equal(["Today", "Yesterday", "2030-06-15", "00:30", "Today"], values[1..]);
    }
}
