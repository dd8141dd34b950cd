using Bulwark.Edge.Tests.Fakes;
using Bulwark.Edge.Tests.Staff;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using static Bulwark.Edge.Tests.WebApp.HeadlessChromium;

namespace Bulwark.Edge.Tests.WebApp;

/// <summary>Drives the staff console in headless Chromium against the staff edge and the fake services.</summary>
public sealed class ConsoleBrowserTests
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Console_SignInFindACustomerByCardLastFourSeeTheirBalanceFreezeTheCardBlockTheAccount_EveryStepAudited()
    {
        await using var console = await StaffConsoleHost.StartAsync();
        using var chromium = HeadlessChromium.Start();
        var driver = chromium.Driver;
        var wait = new WebDriverWait(driver, WaitTimeout);
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            driver.Navigate().GoToUrl(new Uri(console.Staff, "/staff"));

            // Wrong code first: the sign-in says so and stays.
            wait.Until(d => Displayed(d, "staff-login-email")).SendKeys(StaffConsoleHost.SupportEmail);
            driver.FindElement(By.CssSelector("[data-testid='staff-login-password']")).SendKeys(StaffConsoleHost.Password);
            driver.FindElement(By.CssSelector("[data-testid='staff-login-totp']")).SendKeys("000000");
            driver.FindElement(By.CssSelector("[data-testid='staff-login-submit']")).Click();
            wait.Until(d => Displayed(d, "staff-login-error"));
            var code = driver.FindElement(By.CssSelector("[data-testid='staff-login-totp']"));
            code.Clear();
            code.SendKeys(StaffConsoleHost.Code);
            driver.FindElement(By.CssSelector("[data-testid='staff-login-submit']")).Click();
            wait.Until(d => Text(d, "staff-who").Contains("support", StringComparison.Ordinal));
            Screenshot(driver, "console-signed-in");

            wait.Until(d => Displayed(d, "search-cardLastFour")).SendKeys("4242");
            driver.FindElement(By.CssSelector("[data-testid='view-reason']")).SendKeys("customer chat: card declined");
            driver.FindElement(By.CssSelector("[data-testid='search-submit']")).Click();
            wait.Until(d => d.FindElement(By.CssSelector($"[data-testid='customer-row'][data-customer-id='{FakeBank.DemoCustomerId}']"))).Click();

            wait.Until(d => Text(d, "customer-name") == "Alex Morgan");
            // £1,000.00 settled less £12.50 held for a pending card payment.
            Assert.Equal("£987.50", Text(driver, "account-available"));
            Assert.NotEmpty(driver.FindElements(By.CssSelector("[data-testid='feed-row']")));
            Screenshot(driver, "console-customer");

            driver.FindElement(By.CssSelector($"[data-testid='card-row'][data-card-id='{FakeBank.DemoCardId}'] [data-testid='card-freeze']")).Click();
            wait.Until(d => d.FindElement(By.CssSelector($"[data-testid='card-row'][data-card-id='{FakeBank.DemoCardId}'] [data-testid='card-state']")).Text == "frozen");
            Assert.True(console.Host.Bank.Cards.Single(card => card.CardId == FakeBank.DemoCardId).Frozen);
            Screenshot(driver, "console-card-frozen");

            driver.FindElement(By.CssSelector($"[data-testid='account-row'][data-account-id='{FakeBank.DemoAccountId}'] [data-testid='account-block']")).Click();
            wait.Until(d => d.FindElement(By.CssSelector($"[data-testid='account-row'][data-account-id='{FakeBank.DemoAccountId}'] [data-testid='account-state']")).Text == "blocked");
            Assert.True(console.Host.Bank.Accounts.Single(account => account.AccountId == FakeBank.DemoAccountId).Blocked);

            Assert.Equal(["customer.searched", "customer.viewed", "card.frozen", "account.blocked"], console.Audit.Entries.Select(entry => entry.Action));
            Assert.All(console.Audit.Entries, entry => Assert.Equal("customer chat: card declined", entry.Reason));
        }
        catch
        {
            Screenshot(driver, "console-failure");
            throw;
        }
    }
}
