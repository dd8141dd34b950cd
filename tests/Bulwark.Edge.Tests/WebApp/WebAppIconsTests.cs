using System.Net;
using System.Text;
using Bulwark.Edge.Tests.Fakes;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace Bulwark.Edge.Tests.WebApp;

/// <summary>
/// The web app's icons are inline SVG, never emoji: emoji render as empty boxes where no
/// colour-emoji font is installed.
/// </summary>
public sealed class WebAppIconsTests
{
    private static readonly string[] TextFiles =
        ["/", "/app.css", "/js/app.js", "/js/api.js", "/js/cards.js", "/js/dom.js", "/js/format.js", "/js/home.js", "/js/icons.js", "/js/pay.js", "/js/help.js"];

    /// <summary>Pictographs and their presentation selector: what needs an emoji font to show.</summary>
    private static bool IsEmoji(Rune rune) =>
        rune.Value is >= 0x1F000 and <= 0x1FAFF or >= 0x2600 and <= 0x27BF or 0xFE0F or >= 0x2B00 and <= 0x2BFF;

    [Fact]
    public async Task ServedFiles_ContainNoEmoji()
    {
        await using var host = await EdgeHost.StartAsync();

        foreach (var path in TextFiles)
        {
            using var response = await host.SendAsync(HttpMethod.Get, path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var text = await response.Content.ReadAsStringAsync();
            var emoji = text.EnumerateRunes().Where(IsEmoji).Select(rune => $"U+{rune.Value:X4}").Distinct().ToList();
            Assert.True(emoji.Count == 0, $"{path} contains emoji: {string.Join(", ", emoji)}");
        }
    }

    [Fact]
    public async Task LoggedIn_NavFeedPotsAndFrozenCard_DrawSvgIcons()
    {
        await using var host = await EdgeHost.StartAsync();
        using var chromium = HeadlessChromium.Start();
        var driver = chromium.Driver;
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        driver.Navigate().GoToUrl(host.BaseAddress);
        wait.Until(d => d.FindElement(By.CssSelector("[data-testid='login-email']")).Displayed);
        driver.FindElement(By.CssSelector("[data-testid='login-email']")).SendKeys(FakeBank.DemoEmail);
        driver.FindElement(By.CssSelector("[data-testid='login-password']")).SendKeys(FakeBank.DemoPassword);
        driver.FindElement(By.CssSelector("[data-testid='login-submit']")).Click();
        wait.Until(d => d.FindElements(By.CssSelector("[data-testid='feed-item']")).Count > 0);
        wait.Until(d => d.FindElements(By.CssSelector("[data-testid='pot-card']")).Count > 0);

        // Read within the wait: the feed renders again as it polls, and an item found before a
        // render is stale after it (a loaded full run once lost 19 of 20 that way).
        Assert.True(wait.Until(d =>
        {
            var items = d.FindElements(By.CssSelector("[data-testid='feed-item']"));
            return items.Count > 0 && items.All(item => item.FindElements(By.CssSelector(".item-icon svg.icon")).Count == 1);
        }), "a feed item without exactly one icon");
        Assert.Equal(4, driver.FindElements(By.CssSelector("[data-testid='tabbar'] a svg.icon")).Count);
        Assert.NotEmpty(driver.FindElements(By.CssSelector("[data-testid='pot-card'] svg.icon")));

        driver.FindElement(By.CssSelector("[data-testid='nav-cards']")).Click();
        wait.Until(d => d.FindElement(By.CssSelector($"[data-testid='card-freeze-toggle'][data-card-id='{FakeBank.DemoCardId}']"))).Click();
        var badge = wait.Until(d => d.FindElement(By.CssSelector("[data-testid='card-frozen-badge']")));
        Assert.Single(badge.FindElements(By.CssSelector("svg.icon[data-icon='snowflake']")));
        Assert.Equal("Frozen", badge.Text.Trim());

        var text = (string?)((IJavaScriptExecutor)driver).ExecuteScript("return document.body.innerText;") ?? "";
        Assert.DoesNotContain(text.EnumerateRunes(), IsEmoji);
    }
}
