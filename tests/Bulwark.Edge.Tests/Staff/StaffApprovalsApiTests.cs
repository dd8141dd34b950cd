using System.Net;
using System.Text.Json;
using Bulwark.Edge.Staff;
using Bulwark.Edge.Tests.Fakes;
using Bulwark.Platform.Discovery;
using Bulwark.Support;
using Bulwark.Support.Protos;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Tests.Staff;

/// <summary>
/// Maker-checker through the staff edge over real HTTP, with the real support service behind it
/// (its directory, approvals and audit log) and the fake accounts service moving the money: who
/// may propose and decide, one's own proposal refused, and one credit per approval however often
/// the approval is retried or re-executed.
/// </summary>
public sealed class StaffApprovalsApiTests
{
    [Fact]
    public async Task ProposeBySupport_ApproveByOperations_ExecutesOneCredit_AndTheSupportServiceAuditsEachStep()
    {
        await using var edge = await ApprovalsEdge.StartAsync();
        var maker = await edge.StaffAsync("support");
        var checker = await edge.StaffAsync("operations");

        var proposed = await edge.ProposeAsync(maker);
        using var approve = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/approve", checker);
        using var approved = JsonDocument.Parse(await approve.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, approve.StatusCode);
        Assert.Equal("executed", approved.RootElement.GetProperty("status").GetString());
        Assert.Equal(Guid.Parse(proposed).ToString("N"), approved.RootElement.GetProperty("transferId").GetString());
        var credit = Assert.Single(edge.Host.Bank.CreditFromBankRequests);
        Assert.Equal((FakeBank.DemoCustomerId, FakeBank.DemoAccountId, 2_500L, "GBP", proposed), (credit.CustomerId, credit.AccountId, credit.Amount, credit.Currency, credit.ApprovalId));
        var audit = await edge.Audit.ListAsync(new ListAuditRequest { Subject = FakeBank.DemoCustomerId });
        Assert.Equal(["approval.executed", "approval.approved", "approval.proposed"], audit.Entries.Select(entry => entry.Action));
        Assert.Equal([checker.StaffId, checker.StaffId, maker.StaffId], audit.Entries.Select(entry => entry.Actor));
    }

    [Fact]
    public async Task Approve_ByTheMaker_403OwnApproval_NothingMoves()
    {
        await using var edge = await ApprovalsEdge.StartAsync();
        var maker = await edge.StaffAsync("operations");
        var proposed = await edge.ProposeAsync(maker);

        using var approve = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/approve", maker);
        using var refuse = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/refuse", maker, new { reason = "mine" });

        foreach (var response in new[] { approve, refuse })
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("/problems/own-approval", problem.RootElement.GetProperty("type").GetString());
            Assert.Contains("another operations member", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal("pending", await edge.StatusAsync(proposed, maker));
        Assert.Empty(edge.Host.Bank.CreditFromBankRequests);
    }

    [Fact]
    public async Task Approve_BySupport_403_NothingMoves()
    {
        await using var edge = await ApprovalsEdge.StartAsync();
        var maker = await edge.StaffAsync("support");
        var other = await edge.StaffAsync("support");
        var proposed = await edge.ProposeAsync(maker);

        using var approve = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/approve", other);

        Assert.Equal(HttpStatusCode.Forbidden, approve.StatusCode);
        Assert.Equal("pending", await edge.StatusAsync(proposed, other));
        Assert.Empty(edge.Host.Bank.CreditFromBankRequests);
    }

    [Fact]
    public async Task Approve_Retried_AnswersExecuted_OneCredit()
    {
        await using var edge = await ApprovalsEdge.StartAsync();
        var maker = await edge.StaffAsync("support");
        var checker = await edge.StaffAsync("operations");
        var proposed = await edge.ProposeAsync(maker);

        using var first = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/approve", checker);
        using var second = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/approve", checker);

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("executed", JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
        Assert.Single(edge.Host.Bank.BankCredits);
        Assert.Single(edge.Host.Bank.CreditFromBankRequests);
    }

    [Fact]
    public async Task Approve_AccountsDownAfterTheApproval_StaysApproved_ReExecutionMovesTheMoneyOnce()
    {
        await using var edge = await ApprovalsEdge.StartAsync();
        var maker = await edge.StaffAsync("support");
        var checker = await edge.StaffAsync("operations");
        var proposed = await edge.ProposeAsync(maker);
        edge.Host.Bank.Fail(FakeAccounts.Service, StatusCode.Unavailable);

        using var approve = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/approve", checker);
        var between = await edge.StatusAsync(proposed, checker);
        edge.Host.Bank.Heal(FakeAccounts.Service);
        using var execute = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/execute", checker);
        using var executeAgain = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/execute", checker);
        using var approveAgain = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/approve", checker);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, approve.StatusCode);
        Assert.Equal("approved", between);
        Assert.Equal(HttpStatusCode.OK, execute.StatusCode);
        Assert.Equal("executed", JsonDocument.Parse(await execute.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, executeAgain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, approveAgain.StatusCode);
        Assert.Single(edge.Host.Bank.BankCredits);
    }

    [Fact]
    public async Task Approve_CrashBetweenTheCreditAndItsRecord_ReExecutionAnswersTheSameTransfer()
    {
        await using var edge = await ApprovalsEdge.StartAsync();
        var maker = await edge.StaffAsync("support");
        var checker = await edge.StaffAsync("operations");
        var proposed = await edge.ProposeAsync(maker);
        // The edge died after accounts moved the money and before the support service heard of it:
        // the approval is approved, the credit exists.
        await edge.Approvals.ApproveAsync(new ApproveRequest { ApprovalId = proposed, CheckerStaffId = checker.StaffId });
        edge.Host.Bank.BankCredits[proposed] = new Bulwark.Accounts.Protos.MoneyMovement { TransferId = Guid.Parse(proposed).ToString("N"), Amount = 2_500, Currency = "GBP" };

        using var execute = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{proposed}/execute", checker);

        using var executed = JsonDocument.Parse(await execute.Content.ReadAsStringAsync());
        Assert.Equal(("executed", Guid.Parse(proposed).ToString("N")),
            (executed.RootElement.GetProperty("status").GetString(), executed.RootElement.GetProperty("transferId").GetString()));
        Assert.Single(edge.Host.Bank.BankCredits);
    }

    [Fact]
    public async Task Refuse_ByOperations_WithAReason_ThenApprove409_AndTheListShowsPendingFirst()
    {
        await using var edge = await ApprovalsEdge.StartAsync();
        var maker = await edge.StaffAsync("support");
        var checker = await edge.StaffAsync("operations");
        var refusedId = await edge.ProposeAsync(maker);
        var pendingId = await edge.ProposeAsync(maker);

        using var noReason = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{refusedId}/refuse", checker, new { });
        using var refuse = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{refusedId}/refuse", checker, new { reason = "not our mistake" });
        using var approve = await edge.SendAsync(HttpMethod.Post, $"/staff/api/approvals/{refusedId}/approve", checker);
        using var list = await edge.SendAsync(HttpMethod.Get, "/staff/api/approvals", maker);
        using var pending = await edge.SendAsync(HttpMethod.Get, "/staff/api/approvals?status=pending", maker);

        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        Assert.Equal("refused", JsonDocument.Parse(await refuse.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Conflict, approve.StatusCode);
        Assert.Equal([pendingId, refusedId], Ids(await list.Content.ReadAsStringAsync()));
        Assert.Equal([pendingId], Ids(await pending.Content.ReadAsStringAsync()));
        Assert.Empty(edge.Host.Bank.CreditFromBankRequests);
    }

    [Fact]
    public async Task Propose_BadFields_400NamingThem_AndWithoutIdempotencyKey_400()
    {
        await using var edge = await ApprovalsEdge.StartAsync();
        var maker = await edge.StaffAsync("support");

        using var bad = await edge.SendAsync(HttpMethod.Post, "/staff/api/approvals", maker, new { kind = "gift", amount = 0 }, Guid.NewGuid().ToString("N"));
        using var noKey = await edge.SendAsync(HttpMethod.Post, "/staff/api/approvals", maker, ApprovalsEdge.Proposal());

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var errors = JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        foreach (var field in new[] { "kind", "customerId", "accountId", "amount", "currency", "reason" })
        {
            Assert.True(errors.TryGetProperty(field, out _), field);
        }
        Assert.Equal(HttpStatusCode.BadRequest, noKey.StatusCode);
    }

    [Fact]
    public async Task Propose_AnotherCustomersAccountOrAnotherCurrencyOrARefundOfNoTransfer_400NamingTheField_NothingProposed()
    {
        await using var edge = await ApprovalsEdge.StartAsync();
        var maker = await edge.StaffAsync("support");

        using var otherAccount = await edge.SendAsync(HttpMethod.Post, "/staff/api/approvals", maker, new
        {
            kind = "refund",
            customerId = FakeBank.DemoCustomerId,
            accountId = FakeBank.OtherAccountId,
            amount = 100,
            currency = "GBP",
            reason = "r",
            originalTransferId = "0123456789ABCDEF0123456789abcdef",
        }, Guid.NewGuid().ToString("N"));
        using var notATransfer = await edge.SendAsync(HttpMethod.Post, "/staff/api/approvals", maker, new
        {
            kind = "refund",
            customerId = FakeBank.DemoCustomerId,
            accountId = FakeBank.DemoAccountId,
            amount = 100,
            currency = "GBP",
            reason = "r",
            originalTransferId = "feed-item-1",
        }, Guid.NewGuid().ToString("N"));
        using var otherCurrency = await edge.SendAsync(HttpMethod.Post, "/staff/api/approvals", maker, new
        {
            kind = "goodwill_credit",
            customerId = FakeBank.DemoCustomerId,
            accountId = FakeBank.DemoAccountId,
            amount = 100,
            currency = "EUR",
            reason = "r",
        }, Guid.NewGuid().ToString("N"));

        Assert.Equal(HttpStatusCode.BadRequest, otherAccount.StatusCode);
        Assert.True(JsonDocument.Parse(await otherAccount.Content.ReadAsStringAsync()).RootElement.GetProperty("errors").TryGetProperty("accountId", out _));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, otherCurrency.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, notATransfer.StatusCode);
        Assert.True(JsonDocument.Parse(await notATransfer.Content.ReadAsStringAsync()).RootElement.GetProperty("errors").TryGetProperty("originalTransferId", out _));
        Assert.Empty((await edge.Approvals.ListAsync(new ListApprovalsRequest())).Approvals);
    }

    private static List<string> Ids(string json) =>
        [.. JsonDocument.Parse(json).RootElement.GetProperty("approvals").EnumerateArray().Select(approval => approval.GetProperty("approvalId").GetString()!)];

    private sealed record SignedIn(string StaffId, string Token);

    /// <summary>The edge with the real support service in the same host, and staff made in its directory.</summary>
    private sealed class ApprovalsEdge(EdgeHost host, People people) : IAsyncDisposable
    {
        public EdgeHost Host { get; } = host;

        public Bulwark.Support.Protos.Approvals.ApprovalsClient Approvals { get; } = new(Channel(host));

        public Bulwark.Support.Protos.Audit.AuditClient Audit { get; } = new(Channel(host));

        public static async Task<ApprovalsEdge> StartAsync()
        {
            var people = new People();
            var host = await EdgeHost.StartAsync(staff: (services, path) =>
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
            return new ApprovalsEdge(host, people);
        }

        private static CallInvoker Channel(EdgeHost host) => host.App.Services.GetRequiredService<IServiceChannelFactory>().GetChannel("support");

        public static object Proposal() => new
        {
            kind = "goodwill_credit",
            customerId = FakeBank.DemoCustomerId,
            accountId = FakeBank.DemoAccountId,
            amount = 2_500,
            currency = "GBP",
            reason = "card declined by our mistake",
        };

        /// <summary>A staff member in the support directory with <paramref name="role"/>, signed in to the staff edge.</summary>
        public async Task<SignedIn> StaffAsync(string role)
        {
            var email = $"s{Guid.NewGuid():N}@bank.example";
            var created = await new StaffDirectory.StaffDirectoryClient(Channel(Host)).CreateStaffAsync(new CreateStaffRequest
            {
                Email = email,
                Name = "Staff " + role,
                Roles = { role == "operations" ? StaffRole.Operations : StaffRole.Support },
                Password = "a long staff password",
            });
            people.Add(email, new StaffMember(created.Staff.StaffId, created.Staff.Name, [role]));
            using var login = await SendAsync(HttpMethod.Post, "/staff/api/login", null, new { email, password = "a long staff password", totp = "123456" });
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            var token = JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
            return new SignedIn(created.Staff.StaffId, token);
        }

        public async Task<string> ProposeAsync(SignedIn maker)
        {
            using var response = await SendAsync(HttpMethod.Post, "/staff/api/approvals", maker, Proposal(), Guid.NewGuid().ToString("N"));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("pending", json.RootElement.GetProperty("status").GetString());
            return json.RootElement.GetProperty("approvalId").GetString()!;
        }

        public async Task<string> StatusAsync(string approvalId, SignedIn who)
        {
            using var response = await SendAsync(HttpMethod.Get, $"/staff/api/approvals/{approvalId}", who);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString()!;
        }

        public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, SignedIn? who, object? body = null, string? idempotencyKey = null)
        {
            using var http = new HttpClient { BaseAddress = Host.StaffAddress };
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
            if (body is not null || method == HttpMethod.Post)
            {
                request.Content = new StringContent(JsonSerializer.Serialize(body ?? new { }), System.Text.Encoding.UTF8, "application/json");
            }
            if (who is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", who.Token);
            }
            if (idempotencyKey is not null)
            {
                request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
            }
            return await http.SendAsync(request);
        }

        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    /// <summary>Staff the test made in the support directory; any password and code let them in (the directory's own tests cover login).</summary>
    private sealed class People : IStaffAuthenticator
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StaffMember> _members = new(StringComparer.Ordinal);

        public void Add(string email, StaffMember member) => _members[email] = member;

        public Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken) =>
            Task.FromResult<StaffLoginOutcome>(_members.TryGetValue(email, out var member) ? new StaffLoginOutcome.Authenticated(member) : new StaffLoginOutcome.Refused());
    }
}
