using Bulwark.Edge.Tests.Fakes;
using Bulwark.Edge.Tests.Staff;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace Bulwark.Edge.Tests.WebApp;

/// <summary>The Help screen in headless Chromium: a conversation that updates itself while it is open.</summary>
public sealed class HelpBrowserTests
{
    [Fact]
    public async Task HelpScreen_CustomerSends_StaffReplyThroughTheStaffApiAppearsWithoutAReload_AsText()
    {
        await using var edge = await StaffChatHost.StartAsync();
        var staff = await edge.LoginAsync();
        using var chromium = HeadlessChromium.Start();
        var driver = chromium.Driver;
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        driver.Navigate().GoToUrl(edge.Host.BaseAddress);
        wait.Until(d => d.FindElement(By.CssSelector("[data-testid='login-email']")).Displayed);
        driver.FindElement(By.CssSelector("[data-testid='login-email']")).SendKeys(FakeBank.DemoEmail);
        driver.FindElement(By.CssSelector("[data-testid='login-password']")).SendKeys(FakeBank.DemoPassword);
        driver.FindElement(By.CssSelector("[data-testid='login-submit']")).Click();
        wait.Until(d => d.FindElement(By.CssSelector("[data-testid='nav-help']")).Displayed);
        driver.FindElement(By.CssSelector("[data-testid='nav-help']")).Click();
        wait.Until(d => d.FindElement(By.CssSelector("[data-testid='help-input']")).Displayed);
        var script = (IJavaScriptExecutor)driver;
        // A mark on the page: a reload would wipe it.
        script.ExecuteScript("window.notReloaded = true;");

        driver.FindElement(By.CssSelector("[data-testid='help-input']")).SendKeys("Where is my new card?");
        driver.FindElement(By.CssSelector("[data-testid='help-send']")).Click();
        wait.Until(d => d.FindElements(By.CssSelector("[data-testid='help-message'][data-author='customer']")).Count == 1);
        // The screen's long-poll is waiting now (it asked again once the first answer came).
        await Task.Delay(500);
        using var reply = await edge.SendAsync(HttpMethod.Post, $"/staff/api/customers/{FakeBank.DemoCustomerId}/chat", staff,
            new { text = "It is on its way <b>today</b>.", clientMessageId = "browser-1" });
        Assert.Equal(System.Net.HttpStatusCode.OK, reply.StatusCode);
        var answer = wait.Until(d => d.FindElements(By.CssSelector("[data-testid='help-message'][data-author='staff']")).SingleOrDefault());

        Assert.Contains("It is on its way <b>today</b>.", answer!.Text, StringComparison.Ordinal);
        Assert.Empty(answer.FindElements(By.TagName("b")));
        Assert.Contains("Olive", answer.Text, StringComparison.Ordinal);
        Assert.Equal(true, script.ExecuteScript("return window.notReloaded === true;"));
        Assert.Equal(["customer", "staff"], driver.FindElements(By.CssSelector("[data-testid='help-message']")).Select(e => e.GetDomAttribute("data-author")));
    }
}
