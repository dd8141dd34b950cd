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
    private const string Password = "correct horse battery staple";
    private const string Code = "123456";

    [Fact]
    public async Task Search_ByNameAccountNumberOrCardLastFour_FindsTheCustomer_AndTheSearchIsAudited()
    {
        await using var console = await StartAsync();
        var token = await LoginAsync(console, "support@bulwark.example");

        var byName = await GetJsonAsync(console, "/staff/api/customers?name=alex", token);
        var byNumber = await GetJsonAsync(console, $"/staff/api/customers?sortCode=04-00-04&accountNumber={FakeBank.OtherAccountNumber}", token);
        var byCard = await GetJsonAsync(console, "/staff/api/customers?cardLastFour=4242", token);

        Assert.Equal([FakeBank.DemoCustomerId], CustomerIds(byName));
        Assert.Equal([FakeBank.OtherCustomerId], CustomerIds(byNumber));
        Assert.Equal([FakeBank.DemoCustomerId], CustomerIds(byCard));
        var searches = console.Audit.Entries.Where(entry => entry.Action == "customer.searched").ToList();
        Assert.Equal(3, searches.Count);
        Assert.All(searches, entry => Assert.Equal("staff-support", entry.Actor.StaffId));
        Assert.Equal("040004", searches[1].Details!["sortCode"]);
    }

    [Fact]
    public async Task Search_NothingToSearchFor_400NamingAField_NothingAsked()
    {
        await using var console = await StartAsync();
        var token = await LoginAsync(console, "support@bulwark.example");
        var calls = console.Host.Bank.CallCount(FakeAccounts.Service);

        using var response = await SendAsync(console, HttpMethod.Get, "/staff/api/customers?cardLastFour=42ab", token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("cardLastFour", out _));
        Assert.Equal(calls, console.Host.Bank.CallCount(FakeAccounts.Service));
        Assert.Empty(console.Audit.Entries);
    }

    [Fact]
    public async Task View_WithAReason_AccountsBalancesPotsCardsAndFeed_AuditedWithTheReasonBeforeTheAnswer()
    {
        await using var console = await StartAsync();
        var token = await LoginAsync(console, "support@bulwark.example");

        using var view = await GetJsonAsync(console, $"/staff/api/customers/{FakeBank.DemoCustomerId}?reason=chat%20about%20a%20declined%20card", token);

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
        await using var console = await StartAsync();
        var token = await LoginAsync(console, "support@bulwark.example");
        var calls = console.Host.Bank.CallCount(FakeAccounts.Service);

        using var response = await SendAsync(console, HttpMethod.Get, $"/staff/api/customers/{FakeBank.DemoCustomerId}?reason=%20x%20", token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("reason", out _));
        Assert.Equal(calls, console.Host.Bank.CallCount(FakeAccounts.Service));
        Assert.Empty(console.Audit.Entries);
    }

    [Fact]
    public async Task View_AuditLogUnreachable_503_AndNothingOfTheCustomerIsShown()
    {
        await using var console = await StartAsync();
        var token = await LoginAsync(console, "support@bulwark.example");
        console.Audit.FailWith = StatusCode.Unavailable;

        using var response = await SendAsync(console, HttpMethod.Get, $"/staff/api/customers/{FakeBank.DemoCustomerId}?reason=customer%20called", token);

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
        await using var console = await StartAsync();
        var token = await LoginAsync(console, "support@bulwark.example");

        using var response = await SendAsync(console, HttpMethod.Get, $"/staff/api/customers/{Guid.NewGuid()}?reason=customer%20called", token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(console.Audit.Entries);
    }

    [Fact]
    public async Task FreezeThenUnfreeze_TheCardChanges_EachAuditedWithTheReason()
    {
        await using var console = await StartAsync();
        var token = await LoginAsync(console, "support@bulwark.example");
        var path = $"/staff/api/customers/{FakeBank.DemoCustomerId}/cards/{FakeBank.DemoCardId}";

        using var frozen = await SendAsync(console, HttpMethod.Post, path + "/freeze", token, new { reason = "customer lost the card" });
        var frozenInBank = console.Host.Bank.Cards.Single(card => card.CardId == FakeBank.DemoCardId).Frozen;
        using var unfrozen = await SendAsync(console, HttpMethod.Post, path + "/unfreeze", token, new { reason = "card found" });

        Assert.Equal(HttpStatusCode.OK, frozen.StatusCode);
        Assert.True(frozenInBank);
        Assert.Equal(HttpStatusCode.OK, unfrozen.StatusCode);
        Assert.False(console.Host.Bank.Cards.Single(card => card.CardId == FakeBank.DemoCardId).Frozen);
        Assert.Equal([("card.frozen", "customer lost the card"), ("card.unfrozen", "card found")],
            console.Audit.Entries.Select(entry => (entry.Action, entry.Reason)));
    }

    [Fact]
    public async Task Freeze_AnotherCustomersCard_404_AndTheFailureIsAudited()
    {
        await using var console = await StartAsync();
        var token = await LoginAsync(console, "support@bulwark.example");

        using var response = await SendAsync(console, HttpMethod.Post,
            $"/staff/api/customers/{FakeBank.DemoCustomerId}/cards/{FakeBank.OtherCardId}/freeze", token, new { reason = "customer lost the card" });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.False(console.Host.Bank.Cards.Single(card => card.CardId == FakeBank.OtherCardId).Frozen);
        Assert.Equal(["card.frozen", "card.frozen_failed"], console.Audit.Entries.Select(entry => entry.Action));
    }

    [Fact]
    public async Task Roles_AdminAloneIsRefused_ACustomerTokenIsRefused_OperationsIsAllowed()
    {
        await using var console = await StartAsync();
        var admin = await LoginAsync(console, "admin@bulwark.example");
        var operations = await LoginAsync(console, "ops@bulwark.example");
        var customer = await console.Host.LoginAsync();
        var path = "/staff/api/customers?name=alex";

        using var asAdmin = await SendAsync(console, HttpMethod.Get, path, admin);
        using var asCustomer = await SendAsync(console, HttpMethod.Get, path, customer);
        using var asOperations = await SendAsync(console, HttpMethod.Get, path, operations);

        Assert.Equal(HttpStatusCode.Forbidden, asAdmin.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, asCustomer.StatusCode);
        Assert.Equal(HttpStatusCode.OK, asOperations.StatusCode);
    }

    private static IReadOnlyList<string?> CustomerIds(JsonDocument found) =>
        [.. found.RootElement.GetProperty("customers").EnumerateArray().Select(customer => customer.GetProperty("customerId").GetString())];

    private sealed record Console(EdgeHost Host, Uri Staff, RecordingAudit Audit) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    private static async Task<Console> StartAsync()
    {
        var audit = new RecordingAudit();
        var host = await EdgeHost.StartAsync(staff: (services, path) =>
        {
            services.AddSingleton<IStaffSourceRanges>(new FixedRanges());
            services.AddSingleton<IStaffAuthenticator>(new Directory());
            services.AddSingleton<IStaffAuditLog>(audit);
            services.AddStaffEdge(new StaffEdgeOptions { SigningKeyPath = Path.Combine(path, "keys", "staff-signing.key") });
        });
        return new Console(host, host.StaffAddress!, audit);
    }

    private static async Task<string> LoginAsync(Console console, string email)
    {
        using var response = await SendAsync(console, HttpMethod.Post, "/staff/api/login", null, new { email, password = Password, totp = Code });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    private static async Task<JsonDocument> GetJsonAsync(Console console, string path, string token)
    {
        using var response = await SendAsync(console, HttpMethod.Get, path, token);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body);
    }

    private static async Task<HttpResponseMessage> SendAsync(Console console, HttpMethod method, string path, string? token, object? body = null)
    {
        using var http = new HttpClient { BaseAddress = console.Staff };
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        return await http.SendAsync(request);
    }

    private sealed class FixedRanges : IStaffSourceRanges
    {
        public StaffRanges Current { get; } = new(new SourceNetworks(["127.0.0.0/8"]), "test");
    }

    /// <summary>Three staff members, one per role, with the same password and code.</summary>
    private sealed class Directory : IStaffAuthenticator
    {
        public Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken)
        {
            var role = email.Split('@')[0] switch { "support" => "support", "ops" => "operations", "admin" => "admin", _ => null };
            StaffLoginOutcome outcome = role is not null && password == Password && totpCode == Code
                ? new StaffLoginOutcome.Authenticated(new StaffMember($"staff-{role}", $"Staff {role}", [role]))
                : new StaffLoginOutcome.Refused();
            return Task.FromResult(outcome);
        }
    }

    private sealed record AuditEntry(long Sequence, StaffActor Actor, string Action, string Subject, string Reason, IReadOnlyDictionary<string, string>? Details);

    /// <summary>Keeps every entry in order; fails every append with <see cref="FailWith"/> when set, as an unreachable support service does.</summary>
    private sealed class RecordingAudit : IStaffAuditLog
    {
        private readonly ConcurrentQueue<AuditEntry> _entries = new();
        private long _sequence;

        public StatusCode? FailWith { get; set; }

        public IReadOnlyList<AuditEntry> Entries => [.. _entries];

        public Task<long> AppendAsync(StaffActor actor, string action, string subject, string reason, IReadOnlyDictionary<string, string>? details, CancellationToken cancellationToken)
        {
            if (FailWith is { } code)
            {
                throw new ServiceCallException("support", new RpcException(new Status(code, "the support service is not there")));
            }
            var sequence = Interlocked.Increment(ref _sequence);
            _entries.Enqueue(new AuditEntry(sequence, actor, action, subject, reason, details));
            return Task.FromResult(sequence);
        }
    }
}
