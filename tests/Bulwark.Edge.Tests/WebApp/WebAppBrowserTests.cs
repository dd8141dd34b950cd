using Bulwark.Edge.Tests.Fakes;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace Bulwark.Edge.Tests.WebApp;

/// <summary>Drives the web app in headless Chromium against the edge and the fake services.</summary>
public sealed class WebAppBrowserTests
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task WebApp_DemoLogin_ShowsBalanceAndFeedMovesMoneyIntoAPotAndFreezesTheCard()
    {
        await using var host = await EdgeHost.StartAsync();
        using var chromium = HeadlessChromium.Start();
        var driver = chromium.Driver;
        var wait = new WebDriverWait(driver, WaitTimeout);
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            driver.Navigate().GoToUrl(host.BaseAddress);

            // The demo login is a hint (placeholder), never filled in or submitted by itself.
            var email = wait.Until(d => Displayed(d, "login-email"));
            Assert.Equal("", email.GetDomProperty("value"));
            Assert.Equal(FakeBank.DemoEmail, email.GetDomAttribute("placeholder"));
            Screenshot(driver, "login");
            email.SendKeys(FakeBank.DemoEmail);
            driver.FindElement(By.CssSelector("[data-testid='login-password']")).SendKeys(FakeBank.DemoPassword);
            driver.FindElement(By.CssSelector("[data-testid='login-submit']")).Click();

            // £1,000.00 settled less £12.50 held for a pending card payment.
            wait.Until(d => Text(d, "balance-amount") == "£987.50");
            Assert.Null(Displayed(driver, "past-overdraft"));
            Screenshot(driver, "home");
            var merchant = wait.Until(d => d.FindElements(By.CssSelector("[data-testid='feed-item-title']"))
                .FirstOrDefault(e => e.Text == "Pret A Manger"));
            Assert.NotNull(merchant);
            Assert.NotEmpty(driver.FindElements(By.CssSelector("[data-testid='feed-item-pending']")));

            wait.Until(d => d.FindElement(By.CssSelector($"[data-testid='pot-card'][data-pot-id='{FakeBank.DemoPotId}']"))).Click();
            var amount = wait.Until(d => Displayed(d, "pot-amount"));
            amount.SendKeys("10");
            Screenshot(driver, "pot-sheet");
            driver.FindElement(By.CssSelector("[data-testid='pot-deposit']")).Click();

            wait.Until(d => Text(d, "balance-amount") == "£977.50");
            var potBalance = wait.Until(d => d.FindElement(By.CssSelector($"[data-pot-id='{FakeBank.DemoPotId}'] [data-testid='pot-balance']")));
            wait.Until(_ => potBalance.Text == "£60.00");
            Assert.Equal(FakeBank.DemoPotBalance + 1_000, host.Bank.BalanceOf(FakeBank.DemoPotLedgerId));
            Screenshot(driver, "after-deposit");

            driver.FindElement(By.CssSelector("[data-testid='nav-cards']")).Click();
            wait.Until(d => d.FindElement(By.CssSelector($"[data-testid='card-freeze-toggle'][data-card-id='{FakeBank.DemoCardId}']"))).Click();
            wait.Until(d => Displayed(d, "card-frozen-badge"));
            Assert.True(host.Bank.Cards.Single(c => c.CardId == FakeBank.DemoCardId).Frozen);
            Screenshot(driver, "cards");
            driver.FindElement(By.CssSelector("[data-testid='nav-pay']")).Click();
            wait.Until(d => Displayed(d, "pay-form"));
            Screenshot(driver, "pay");
        }
        catch
        {
            Screenshot(driver, "failure");
            throw;
        }
    }

    [Fact]
    public async Task WebApp_AccountPastItsOverdraft_ShowsAWarning()
    {
        await using var host = await EdgeHost.StartAsync();
        lock (host.Bank.Sync)
        {
            // A force-posted card payment of £1,600: settled £1,000 less it, and £12.50 pending, is
            // £612.50 below zero, £112.50 past the £500 overdraft.
            host.Bank.LedgerAccounts[FakeBank.DemoAccountLedgerId].DebitsPosted += 160_000;
        }
        using var chromium = HeadlessChromium.Start();
        var driver = chromium.Driver;
        var wait = new WebDriverWait(driver, WaitTimeout);
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            driver.Navigate().GoToUrl(host.BaseAddress);
            wait.Until(d => Displayed(d, "login-email")).SendKeys(FakeBank.DemoEmail);
            driver.FindElement(By.CssSelector("[data-testid='login-password']")).SendKeys(FakeBank.DemoPassword);
            driver.FindElement(By.CssSelector("[data-testid='login-submit']")).Click();

            var warning = wait.Until(d => Displayed(d, "past-overdraft"));
            Assert.Contains("£112.50 past your arranged overdraft", warning.Text, StringComparison.Ordinal);
            Screenshot(driver, "past-overdraft");
        }
        catch
        {
            Screenshot(driver, "failure");
            throw;
        }
    }

    private static IWebElement? Displayed(IWebDriver driver, string testId)
    {
        var element = driver.FindElement(By.CssSelector($"[data-testid='{testId}']"));
        return element.Displayed ? element : null;
    }

    private static string Text(IWebDriver driver, string testId) =>
        driver.FindElement(By.CssSelector($"[data-testid='{testId}']")).Text;

    /// <summary>Saves a screenshot when BULWARK_SCREENSHOTS names a directory, to look at what the test saw.</summary>
    private static void Screenshot(IWebDriver driver, string name)
    {
        var directory = Environment.GetEnvironmentVariable("BULWARK_SCREENSHOTS");
        if (string.IsNullOrEmpty(directory) || driver is not ITakesScreenshot camera)
        {
            return;
        }
        Directory.CreateDirectory(directory);
        camera.GetScreenshot().SaveAsFile(Path.Combine(directory, $"edge-{name}.png"));
    }
}
