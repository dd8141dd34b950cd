using Bulwark.Edge.Tests.Staff.Ops;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace Bulwark.Edge.Tests.WebApp;

/// <summary>
/// The ops view in headless Chromium: an operations member signs in (password and authenticator
/// code), sees the bank's services with their health, sets a status banner, and the customer app
/// shows it.
/// </summary>
public sealed class OpsViewBrowserTests
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task OpsView_OperationsMemberSignsInSeesServicesAndSetsABanner_TheCustomerAppShowsIt()
    {
        await using var host = await OpsHost.StartAsync();
        using var chromium = HeadlessChromium.Start();
        var driver = chromium.Driver;
        var wait = new WebDriverWait(driver, WaitTimeout);
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            driver.Navigate().GoToUrl(new Uri(host.StaffAddress, "/staff/ops"));
            wait.Until(d => Displayed(d, "staff-login-email")).SendKeys(OpsStaff.Operations);
            driver.FindElement(By.CssSelector("[data-testid='staff-login-password']")).SendKeys(OpsStaff.Password);
            driver.FindElement(By.CssSelector("[data-testid='staff-login-totp']")).SendKeys(OpsStaff.Code);
            driver.FindElement(By.CssSelector("[data-testid='staff-login-submit']")).Click();

            // The configuration service's instance, probed by the staff edge, serving.
            var config = wait.Until(d => d.FindElement(By.CssSelector("[data-testid='ops-instance'][data-service='config'] [data-testid='ops-instance-health']")));
            Assert.Equal("SERVING", config.Text.Split('\n')[0]);
            Assert.Contains("Olive Ops", driver.FindElement(By.CssSelector("[data-testid='staff-who']")).Text, StringComparison.Ordinal);
            Assert.Equal(4, driver.FindElements(By.CssSelector("[data-testid='ops-chart']")).Count);

            driver.FindElement(By.CssSelector("[data-testid='ops-banner-level'] option[value='critical']")).Click();
            driver.FindElement(By.CssSelector("[data-testid='ops-banner-message']")).SendKeys("Card payments are delayed <b>now</b>.");
            driver.FindElement(By.CssSelector("[data-testid='ops-banner-reason']")).SendKeys("browser test");
            driver.FindElement(By.CssSelector("[data-testid='ops-banner-set']")).Click();
            wait.Until(d => d.FindElement(By.CssSelector("[data-testid='ops-banner-text']")).Text == "Card payments are delayed <b>now</b>.");
            Assert.Contains(host.Audit.Entries, entry => entry.Action == "banner.set" && entry.StaffId == "staff-ops");

            // The customer app, on the public port, shows it as text (markup in a message stays text).
            driver.Navigate().GoToUrl(host.PublicAddress);
            var banner = wait.Until(d => Displayed(d, "status-banner"));
            wait.Until(_ => banner.Text == "Card payments are delayed <b>now</b>.");
            Assert.Equal("critical", banner.GetDomAttribute("data-level"));
            Assert.Empty(driver.FindElements(By.CssSelector("[data-testid='status-banner'] b")));
        }
        catch
        {
            var directory = Environment.GetEnvironmentVariable("BULWARK_SCREENSHOTS");
            if (!string.IsNullOrEmpty(directory) && driver is ITakesScreenshot camera)
            {
                Directory.CreateDirectory(directory);
                camera.GetScreenshot().SaveAsFile(Path.Combine(directory, "ops-failure.png"));
            }
            throw;
        }
    }

    private static IWebElement? Displayed(IWebDriver driver, string testId)
    {
        var element = driver.FindElement(By.CssSelector($"[data-testid='{testId}']"));
        return element.Displayed ? element : null;
    }
}
