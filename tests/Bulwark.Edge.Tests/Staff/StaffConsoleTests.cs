using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Bulwark.Edge.Services;
using Bulwark.Edge.Staff;
using Bulwark.Edge.Tests.Fakes;
using Bulwark.Platform.Security;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Tests.Staff;

/// <summary>
/// The console's customer API over real loopback HTTP, with the fake accounts, feed and ledger
/// behind it: what staff see, what they may do by role, and that every view and action is in the
/// audit log (a stand-in here that records entries or fails like an unreachable support service).
/// </summary>
public sealed class StaffConsoleTests
{
    [Fact]
    public async Task Search_ByNameAccountNumberOrCardLastFour_FindsTheCustomer_AndTheSearchIsAudited()
    {
        await using var console = await StaffConsoleHost.StartAsync();
        var token = await console.LoginAsync(StaffConsoleHost.SupportEmail);

        var byName = await console.GetJsonAsync("/staff/api/customers?reason=customer%20chat&name=alex", token);
        var byNumber = await console.GetJsonAsync($"/staff/api/customers?reason=customer%20chat&sortCode=04-00-04&accountNumber={FakeBank.OtherAccountNumber}", token);
        var byCard = await console.GetJsonAsync("/staff/api/customers?reason=customer%20chat&cardLastFour=4242", token);

        Assert.Equal([FakeBank.DemoCustomerId], CustomerIds(byName));
        Assert.Equal([FakeBank.OtherCustomerId], CustomerIds(byNumber));
        Assert.Equal([FakeBank.DemoCustomerId], CustomerIds(byCard));
        var searches = console.Audit.Entries.Where(entry => entry.Action == "customer.searched").ToList();
        Assert.Equal(3, searches.Count);
        Assert.All(searches, entry => Assert.Equal("staff-support", entry.Actor.StaffId));
        Assert.Equal("040004", searches[1].Details!["sortCode"]);
    }

    [Theory]
    [InlineData("reason=customer%20chat&cardLastFour=42ab", "cardLastFour")]
    [InlineData("reason=customer%20chat", "name")]
    [InlineData("name=alex", "reason")]
    public async Task Search_BadOrMissingField_400NamingIt_NothingAskedOrAudited(string query, string field)
    {
        await using var console = await StaffConsoleHost.StartAsync();
        var token = await console.LoginAsync(StaffConsoleHost.SupportEmail);
        var calls = console.Host.Bank.CallCount(FakeAccounts.Service);

        using var response = await console.SendAsync(HttpMethod.Get, "/staff/api/customers?" + query, token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _));
        Assert.Equal(calls, console.Host.Bank.CallCount(FakeAccounts.Service));
        Assert.Empty(console.Audit.Entries);
    }

    [Fact]
    public async Task View_WithAReason_AccountsBalancesPotsCardsAndFeed_AuditedWithTheReasonBeforeTheAnswer()
    {
        await using var console = await StaffConsoleHost.StartAsync();
        var token = await console.LoginAsync(StaffConsoleHost.SupportEmail);

        using var view = await console.GetJsonAsync($"/staff/api/customers/{FakeBank.DemoCustomerId}?reason=chat%20about%20a%20declined%20card", token);

        var root = view.RootElement;
        Assert.Equal("Alex Morgan", root.GetProperty("customer").GetProperty("name").GetString());
        var account = Assert.Single(root.GetProperty("accounts").EnumerateArray());
        Assert.Equal(FakeBank.DemoSettled, account.GetProperty("balance").GetProperty("settled").GetInt64());
        Assert.Equal(FakeBank.DemoPotBalance, Assert.Single(root.GetProperty("pots").EnumerateArray()).GetProperty("balance").GetProperty("settled").GetInt64());
        Assert.Equal("4242", Assert.Single(root.GetProperty("cards").EnumerateArray()).GetProperty("lastFour").GetString());
        Assert.NotEmpty(root.GetProperty("feed").GetProperty("items").EnumerateArray());
        var entry = Assert.Single(console.Audit.Entries);
        Assert.Equal(("customer.viewed", FakeBank.DemoCustomerId, "chat about a declined card"), (entry.Action, entry.Subject, entry.Reason));
        Assert.Equal(IPAddress.Loopback, entry.Actor.Source);
        Assert.Equal(entry.Sequence, root.GetProperty("auditSequence").GetInt64());
    }

    [Fact]
    public async Task View_WithoutAReason_400_NothingReadOrAudited()
    {
        await using var console = await StaffConsoleHost.StartAsync();
        var token = await console.LoginAsync(StaffConsoleHost.SupportEmail);
        var calls = console.Host.Bank.CallCount(FakeAccounts.Service);

        using var response = await console.SendAsync(HttpMethod.Get, $"/staff/api/customers/{FakeBank.DemoCustomerId}?reason=%20x%20", token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("reason", out _));
        Assert.Equal(calls, console.Host.Bank.CallCount(FakeAccounts.Service));
        Assert.Empty(console.Audit.Entries);
    }

    [Fact]
    public async Task View_AuditLogUnreachable_503_AndNothingOfTheCustomerIsShown()
    {
        await using var console = await StaffConsoleHost.StartAsync();
        var token = await console.LoginAsync(StaffConsoleHost.SupportEmail);
        console.Audit.FailWith = StatusCode.Unavailable;

        using var response = await console.SendAsync(HttpMethod.Get, $"/staff/api/customers/{FakeBank.DemoCustomerId}?reason=customer%20called", token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("Alex Morgan", body, StringComparison.Ordinal);
        Assert.DoesNotContain("4242", body, StringComparison.Ordinal);
        // The ledger (balances) and the feed were never asked.
        Assert.Equal(0, console.Host.Bank.CallCount(FakeLedger.Service));
        Assert.Equal(0, console.Host.Bank.CallCount(FakeFeed.Service));
    }

    [Fact]
    public async Task View_UnknownCustomer_404()
    {
        await using var console = await StaffConsoleHost.StartAsync();
        var token = await console.LoginAsync(StaffConsoleHost.SupportEmail);

        using var response = await console.SendAsync(HttpMethod.Get, $"/staff/api/customers/{Guid.NewGuid()}?reason=customer%20called", token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(console.Audit.Entries);
    }

    [Fact]
    public async Task FreezeThenUnfreeze_TheCardChanges_EachAuditedWithTheReason()
    {
        await using var console = await StaffConsoleHost.StartAsync();
        var token = await console.LoginAsync(StaffConsoleHost.SupportEmail);
        var path = $"/staff/api/customers/{FakeBank.DemoCustomerId}/cards/{FakeBank.DemoCardId}";

        using var frozen = await console.SendAsync(HttpMethod.Post, path + "/freeze", token, new { reason = "customer lost the card" });
        var frozenInBank = console.Host.Bank.Cards.Single(card => card.CardId == FakeBank.DemoCardId).Frozen;
        // The customer's own unfreeze does not undo the bank's freeze.
        using var customerUnfreeze = await console.Host.SendAsync(HttpMethod.Post, $"/api/cards/{FakeBank.DemoCardId}/unfreeze", token: await console.Host.LoginAsync());
        Assert.Equal(422, (int)customerUnfreeze.StatusCode);
        using var unfrozen = await console.SendAsync(HttpMethod.Post, path + "/unfreeze", token, new { reason = "card found" });

        Assert.Equal(HttpStatusCode.OK, frozen.StatusCode);
        Assert.True(frozenInBank);
        Assert.Equal(HttpStatusCode.OK, unfrozen.StatusCode);
        Assert.Equal(HttpStatusCode.OK, unfrozen.StatusCode);
        Assert.False(console.Host.Bank.Cards.Single(card => card.CardId == FakeBank.DemoCardId).Frozen);
        Assert.Equal([("card.frozen", "customer lost the card"), ("card.unfrozen", "card found")],
            console.Audit.Entries.Select(entry => (entry.Action, entry.Reason)));
    }

    [Fact]
    public async Task Freeze_AnotherCustomersCard_404_AndTheFailureIsAudited()
    {
        await using var console = await StaffConsoleHost.StartAsync();
        var token = await console.LoginAsync(StaffConsoleHost.SupportEmail);

        using var response = await console.SendAsync(HttpMethod.Post,
            $"/staff/api/customers/{FakeBank.DemoCustomerId}/cards/{FakeBank.OtherCardId}/freeze", token, new { reason = "customer lost the card" });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.False(console.Host.Bank.Cards.Single(card => card.CardId == FakeBank.OtherCardId).Frozen);
        Assert.Equal(["card.frozen", "card.frozen_failed"], console.Audit.Entries.Select(entry => entry.Action));
    }

    [Fact]
    public async Task BlockAccount_TheCustomersPaymentsAreRefused_UnblockLetsThemPay_EachAudited()
    {
        await using var console = await StaffConsoleHost.StartAsync();
        var token = await console.LoginAsync(StaffConsoleHost.OperationsEmail);
        var customer = await console.Host.LoginAsync();
        var path = $"/staff/api/customers/{FakeBank.DemoCustomerId}/accounts/{FakeBank.DemoAccountId}";
        var payment = JsonSerializer.Serialize(new
        {
            fromAccountId = FakeBank.DemoAccountId,
            toSortCode = FakeBank.OtherSortCode,
            toAccountNumber = FakeBank.OtherAccountNumber,
            amount = 1_000,
            currency = "GBP",
            reference = "Rent",
        });

        using var blocked = await console.SendAsync(HttpMethod.Post, path + "/block", token, new { reason = "suspected account takeover" });
        using var refusedPayment = await console.Host.SendAsync(HttpMethod.Post, "/api/payments", payment, customer, idempotencyKey: Guid.NewGuid().ToString("N"));
        using var unblocked = await console.SendAsync(HttpMethod.Post, path + "/unblock", token, new { reason = "customer verified by phone" });
        using var payment2 = await console.Host.SendAsync(HttpMethod.Post, "/api/payments", payment, customer, idempotencyKey: Guid.NewGuid().ToString("N"));

        Assert.Equal(HttpStatusCode.OK, blocked.StatusCode);
        using (var json = JsonDocument.Parse(await blocked.Content.ReadAsStringAsync()))
        {
            Assert.True(json.RootElement.GetProperty("blocked").GetBoolean());
        }
        Assert.Equal(422, (int)refusedPayment.StatusCode);
        Assert.Contains("account blocked", await refusedPayment.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, unblocked.StatusCode);
        Assert.True(payment2.IsSuccessStatusCode, await payment2.Content.ReadAsStringAsync());
        Assert.Equal([("account.blocked", "suspected account takeover"), ("account.unblocked", "customer verified by phone")],
            console.Audit.Entries.Select(entry => (entry.Action, entry.Reason)));
    }

    [Fact]
    public async Task Roles_AdminAloneIsRefused_ACustomerTokenIsRefused_OperationsIsAllowed()
    {
        await using var console = await StaffConsoleHost.StartAsync();
        var admin = await console.LoginAsync(StaffConsoleHost.AdminEmail);
        var operations = await console.LoginAsync(StaffConsoleHost.OperationsEmail);
        var customer = await console.Host.LoginAsync();
        var path = "/staff/api/customers?reason=customer%20chat&name=alex";

        using var asAdmin = await console.SendAsync(HttpMethod.Get, path, admin);
        using var asCustomer = await console.SendAsync(HttpMethod.Get, path, customer);
        using var asOperations = await console.SendAsync(HttpMethod.Get, path, operations);

        Assert.Equal(HttpStatusCode.Forbidden, asAdmin.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, asCustomer.StatusCode);
        Assert.Equal(HttpStatusCode.OK, asOperations.StatusCode);
    }

    private static IReadOnlyList<string?> CustomerIds(JsonDocument found) =>
        [.. found.RootElement.GetProperty("customers").EnumerateArray().Select(customer => customer.GetProperty("customerId").GetString())];
}
