using System.Text.Json;
using Bulwark.Edge.Tests.Fakes;
using Bulwark.Edge.Tests.Staff;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace Bulwark.Edge.Tests.WebApp;

/// <summary>
/// The console's chat panel (/staff/js/chat.js) in headless Chromium, mounted on the staff page the
/// way the console mounts it: mountChat(container, customerId).
/// </summary>
public sealed class StaffChatPanelBrowserTests
{
    [Fact]
    public async Task ChatPanel_ShowsTheConversation_Answers_GetsNewMessagesWithoutAReload_StopsPollingOnceRemoved()
    {
        await using var edge = await StaffChatHost.StartAsync();
        var staff = await edge.LoginAsync();
        var customer = await edge.Host.LoginAsync();
        await SendAsCustomerAsync(edge, customer, "Hello, my card <i>was</i> declined");
        using var chromium = HeadlessChromium.Start();
        var driver = chromium.Driver;
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        // Any page of the staff origin will do (the modules are imported from it): the stylesheet, not the console, which would mount a panel of its own.
        driver.Navigate().GoToUrl(new Uri(edge.Staff, "/staff/staff.css"));
        var script = (IJavaScriptExecutor)driver;
        var mounted = script.ExecuteAsyncScript("""
            const [token, customerId, done] = arguments;
            Promise.all([import('/staff/js/api.js'), import('/staff/js/chat.js')]).then(([api, chat]) => {
              api.setToken(token);
              const container = document.createElement('div');
              container.id = 'chat-test-container';
              document.body.append(container);
              chat.mountChat(container, customerId);
              window.notReloaded = true;
              done('mounted');
            }).catch((error) => done(String(error)));
            """, staff, FakeBank.DemoCustomerId);
        Assert.Equal("mounted", mounted);

        var first = wait.Until(d => d.FindElements(By.CssSelector("[data-testid='chat-panel'] [data-testid='chat-message'][data-author='customer']")).SingleOrDefault());
        Assert.Contains("Hello, my card <i>was</i> declined", first!.Text, StringComparison.Ordinal);
        Assert.Empty(first.FindElements(By.TagName("i")));
        driver.FindElement(By.CssSelector("[data-testid='chat-input']")).SendKeys("Let me look at it.");
        driver.FindElement(By.CssSelector("[data-testid='chat-send']")).Click();
        wait.Until(d => d.FindElements(By.CssSelector("[data-testid='chat-message'][data-author='staff']")).Count == 1);
        await Task.Delay(500);
        await SendAsCustomerAsync(edge, customer, "Thank you");
        wait.Until(d => d.FindElements(By.CssSelector("[data-testid='chat-message']")).Count == 3);

        Assert.Equal(true, script.ExecuteScript("return window.notReloaded === true;"));
        var post = edge.Host.Chat.Posts.Single(p => p.AuthorKind == Bulwark.Support.Protos.ChatAuthorKind.Staff);
        Assert.Equal((StaffChatHost.SupportStaffId, "Let me look at it."), (post.AuthorId, post.Text));
        // Each read that showed messages was audited: the opening one, the one that brought the
        // staff's own answer back, the one that brought "Thank you" (two may arrive in one read).
        var viewed = edge.Audit.Entries.Where(entry => entry.Action == "chat.viewed").ToList();
        Assert.InRange(viewed.Count, 2, 3);
        Assert.Equal("opened the conversation with the customer", viewed[0].Reason);

        // Removed from the page: the poll in flight ends with the next message, and no other follows.
        script.ExecuteScript("document.getElementById('chat-test-container').remove();");
        await Task.Delay(300);
        await SendAsCustomerAsync(edge, customer, "Are you there?");
        await Task.Delay(1_000);
        var reads = edge.Host.Chat.Reads.Count;
        await Task.Delay(1_500);
        Assert.Equal(reads, edge.Host.Chat.Reads.Count);
    }

    private static async Task SendAsCustomerAsync(StaffChatHost edge, string token, string text)
    {
        using var response = await edge.Host.SendAsync(HttpMethod.Post, "/api/help/messages", JsonSerializer.Serialize(new { text }), token, EdgeHost.NewIdempotencyKey());
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
