using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Bulwark.Edge.Staff;
using Bulwark.Edge.Tests.Fakes;
using Bulwark.Edge.Tests.Staff;
using Bulwark.Platform.Discovery;
using Bulwark.Support;
using Bulwark.Support.Protos;
using Microsoft.Extensions.DependencyInjection;
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

            // "Refund…" on a settled payment out fills the proposal with that payment (nothing is sent yet).
            var refund = driver.FindElement(By.CssSelector("[data-testid='feed-refund']"));
            var refunded = refund.GetAttribute("data-transfer-id");
            refund.Click();
            Assert.Equal("refund", driver.FindElement(By.CssSelector("[data-testid='propose-kind']")).GetAttribute("value"));
            Assert.Equal(refunded, driver.FindElement(By.CssSelector("[data-testid='propose-original']")).GetAttribute("value"));
            Assert.Equal((FakeBank.DemoFirstSettledTransferId, "2.37"), (refunded, driver.FindElement(By.CssSelector("[data-testid='propose-amount']")).GetAttribute("value")));

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

    /// <summary>
    /// The console's chat and maker-checker through the real support service (its chat, approvals,
    /// staff directory and audit log) behind the staff edge: a customer's Help message reaches the
    /// console and the staff answer reaches the customer; an operations member proposes a goodwill
    /// credit, is refused approving it themselves, and a second operations member approves it — one credit.
    /// </summary>
    [Fact]
    public async Task Console_ChatBothWays_ACreditRefusedToItsMakerThenApprovedByAnother_ExecutedOnce()
    {
        var people = new People();
        await using var host = await EdgeHost.StartAsync(fakeChat: false, staff: (services, path) =>
        {
            services.AddSingleton<IStaffAuthenticator>(people);
            services.AddSupport(new SupportOptions
            {
                DatabasePath = Path.Combine(path, "support.db"),
                TotpKeyPath = Path.Combine(path, "keys", "totp.key"),
                PasswordIterations = 1_000,
                PasswordHashingConcurrency = 1,
            });
            services.AddSupportStaffDirectory();
            services.AddStaffEdge(new StaffEdgeOptions { SigningKeyPath = Path.Combine(path, "keys", "staff-signing.key") });
        }, map: app => app.MapSupport());
        var support = host.App.Services.GetRequiredService<IServiceChannelFactory>().GetChannel("support");
        var maker = await people.CreateAsync(support, "maker@bank.example", "Mo Maker");
        var checker = await people.CreateAsync(support, "checker@bank.example", "Cat Checker");
        var customer = await host.LoginAsync();
        using (var asked = await host.SendAsync(HttpMethod.Post, "/api/help/messages", JsonSerializer.Serialize(new { text = "My card was declined at the bakery" }), customer, idempotencyKey: Guid.NewGuid().ToString("N")))
        {
            Assert.True(asked.IsSuccessStatusCode, await asked.Content.ReadAsStringAsync());
        }

        using var chromium = HeadlessChromium.Start();
        var driver = chromium.Driver;
        var wait = new WebDriverWait(driver, WaitTimeout);
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            driver.Navigate().GoToUrl(new Uri(host.StaffAddress!, "/staff/"));
            SignIn(driver, wait, "maker@bank.example");
            driver.FindElement(By.CssSelector("[data-testid='view-reason']")).SendKeys("customer chat: declined card");
            driver.FindElement(By.CssSelector("[data-testid='search-name']")).SendKeys("alex");
            driver.FindElement(By.CssSelector("[data-testid='search-submit']")).Click();
            wait.Until(d => d.FindElement(By.CssSelector($"[data-testid='customer-row'][data-customer-id='{FakeBank.DemoCustomerId}']"))).Click();

            // The customer's message is in the console; the answer goes back.
            wait.Until(d => d.FindElements(By.CssSelector("[data-testid='chat-message']")).Any(m => m.Text.Contains("declined at the bakery", StringComparison.Ordinal)));
            driver.FindElement(By.CssSelector("[data-testid='chat-input']")).SendKeys("Sorry about that: we are crediting you £25.");
            driver.FindElement(By.CssSelector("[data-testid='chat-send']")).Click();
            wait.Until(d => d.FindElements(By.CssSelector("[data-testid='chat-message']")).Any(m => m.Text.Contains("crediting you", StringComparison.Ordinal)));
            using (var conversation = await host.SendAsync(HttpMethod.Get, "/api/help/messages?after=0", token: customer))
            {
                Assert.Contains("crediting you", await conversation.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
            Screenshot(driver, "console-chat");

            // The maker proposes a credit and may not approve it.
            driver.FindElement(By.CssSelector("[data-testid='propose-amount']")).SendKeys("25.00");
            driver.FindElement(By.CssSelector("[data-testid='propose-reason']")).SendKeys("card declined by our mistake");
            driver.FindElement(By.CssSelector("[data-testid='propose-submit']")).Click();
            wait.Until(d => Displayed(d, "propose-done"));
            wait.Until(d => d.FindElement(By.CssSelector("[data-testid='approval-row'] [data-testid='approve']"))).Click();
            wait.Until(d => Displayed(d, "approval-error"));
            Assert.StartsWith("You proposed approval", Text(driver, "approval-error"), StringComparison.Ordinal);
            Assert.Empty(host.Bank.CreditFromBankRequests);
            Screenshot(driver, "console-own-approval");

            // A second operations member approves it: one credit, of £25.00, to the customer's account.
            driver.FindElement(By.CssSelector("[data-testid='staff-sign-out']")).Click();
            SignIn(driver, wait, "checker@bank.example");
            wait.Until(d => d.FindElement(By.CssSelector("[data-testid='approval-row'] [data-testid='approve']"))).Click();
            wait.Until(d => Displayed(d, "approvals-empty"));
            Screenshot(driver, "console-approved");
        }
        catch
        {
            Screenshot(driver, "console-maker-checker-failure");
            throw;
        }
        var credit = Assert.Single(host.Bank.CreditFromBankRequests);
        Assert.Equal((2_500, FakeBank.DemoAccountId), (credit.Amount, credit.AccountId));
        var audit = await new Audit.AuditClient(support).ListAsync(new ListAuditRequest { Subject = FakeBank.DemoCustomerId, Limit = 100 });
        var actions = audit.Entries.Select(entry => (entry.Actor, entry.Action)).ToList();
        Assert.Contains((maker, "customer.viewed"), actions);
        Assert.Contains((maker, "chat.sent"), actions);
        Assert.Contains((maker, "approval.proposed"), actions);
        Assert.Contains((checker, "approval.approved"), actions);
        Assert.DoesNotContain((maker, "approval.approved"), actions);
    }

    private static void SignIn(IWebDriver driver, WebDriverWait wait, string email)
    {
        wait.Until(d => Displayed(d, "staff-login-email")).SendKeys(email);
        driver.FindElement(By.CssSelector("[data-testid='staff-login-password']")).SendKeys("a long staff password");
        driver.FindElement(By.CssSelector("[data-testid='staff-login-totp']")).SendKeys("123456");
        driver.FindElement(By.CssSelector("[data-testid='staff-login-submit']")).Click();
        wait.Until(d => Displayed(d, "staff-who"));
    }

    /// <summary>Real members of the support service's directory (operations), signed in here without their TOTP: the directory's own tests cover that.</summary>
    private sealed class People : IStaffAuthenticator
    {
        private readonly ConcurrentDictionary<string, StaffMember> _members = new(StringComparer.Ordinal);

        public async Task<string> CreateAsync(Grpc.Core.CallInvoker support, string email, string name)
        {
            var created = await new StaffDirectory.StaffDirectoryClient(support).CreateStaffAsync(new CreateStaffRequest
            {
                Email = email,
                Name = name,
                Roles = { StaffRole.Operations },
                Password = "a long staff password",
            });
            _members[email] = new StaffMember(created.Staff.StaffId, name, ["operations"]);
            return created.Staff.StaffId;
        }

        public Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken) =>
            Task.FromResult<StaffLoginOutcome>(_members.TryGetValue(email, out var member) ? new StaffLoginOutcome.Authenticated(member) : new StaffLoginOutcome.Refused());
    }
}
