using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Bulwark.Accounts.Protos;
using Bulwark.Edge.Staff;
using Bulwark.Edge.Tests.Fakes;
using Bulwark.Platform.Security;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Tests.Staff;

/// <summary>
/// The staff edge's operator gateway over real loopback HTTP/2: a gRPC client (as the operator CLI
/// is) calls the accounts contract at the operator port, and the gateway checks the source, the
/// staff token, the method's roles and the reason, audits, and forwards to the (fake) accounts
/// service it finds in discovery — or answers a gRPC refusal, with nothing forwarded.
/// </summary>
public sealed class OperatorGatewayTests
{
    private const string OpsEmail = "ops@bulwark.example";
    private const string SupportEmail = "support@bulwark.example";
    private const string Password = "correct horse battery staple";
    private const string Code = "123456";

    [Fact]
    public async Task StaffTokenAndReason_Forwarded_AuditedFirstWithWhoWhatWhy()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var token = await LoginAsync(edge, OpsEmail);

        var customer = await edge.Accounts(token, "checking a complaint").GetCustomerAsync(new GetCustomerRequest { CustomerId = FakeBank.DemoCustomerId });

        Assert.Equal(FakeBank.DemoEmail, customer.Email);
        var entry = Assert.Single(edge.Audit.Entries);
        Assert.Equal("staff-ops", entry.Actor.StaffId);
        Assert.Equal("operator.call", entry.Action);
        Assert.Equal("/bulwark.accounts.v1.Accounts/GetCustomer", entry.Subject);
        Assert.Equal("checking a complaint", entry.Reason);
        Assert.Equal(IPAddress.Loopback, entry.Actor.Source);
    }

    [Fact]
    public async Task NoToken_OrACustomerToken_Unauthenticated_NothingForwardedOrAudited()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var customerToken = await edge.Host.LoginAsync();
        var before = edge.Host.Bank.CallCount(FakeAccounts.Service);

        var none = await Assert.ThrowsAsync<RpcException>(() => edge.Accounts(null, "a reason").GetCustomerAsync(new GetCustomerRequest { CustomerId = FakeBank.DemoCustomerId }).ResponseAsync);
        var customer = await Assert.ThrowsAsync<RpcException>(() => edge.Accounts(customerToken, "a reason").GetCustomerAsync(new GetCustomerRequest { CustomerId = FakeBank.DemoCustomerId }).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, none.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, customer.StatusCode);
        Assert.Contains("bulwark staff login", customer.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(before, edge.Host.Bank.CallCount(FakeAccounts.Service));
        Assert.Empty(edge.Audit.Entries);
    }

    [Fact]
    public async Task SupportRole_ReadsCustomers_ButAWriteIsPermissionDenied_NamingTheRole()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var token = await LoginAsync(edge, SupportEmail);
        var accounts = edge.Accounts(token, "customer asked");

        await accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = FakeBank.DemoCustomerId });
        var calls = edge.Host.Bank.CallCount(FakeAccounts.Service);
        var write = await Assert.ThrowsAsync<RpcException>(() => accounts.CreateCustomerAsync(new CreateCustomerRequest
        {
            Name = "New Customer",
            Email = "new@example.com",
        }).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, write.StatusCode);
        Assert.Contains("needs the role operations", write.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(calls, edge.Host.Bank.CallCount(FakeAccounts.Service));
        Assert.Single(edge.Audit.Entries);
    }

    [Fact]
    public async Task LedgerTransfer_OnlyAnOpeningBalanceFromTheFundingAccount_IsForwarded_AuditedWithWhatMoved()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var token = await LoginAsync(edge, OpsEmail);
        var ledger = edge.Ledger(token, "opening balance");
        Bulwark.Ledger.Protos.SubmitTransfersRequest Submit(UInt128 debit, uint flags = 0) => new()
        {
            IdNamespace = Bulwark.Ledger.Protos.IdNamespace.Bank,
            Transfers =
            {
                new Bulwark.Ledger.Protos.Transfer
                {
                    Id = Id(new UInt128(0x42_75_6C_77_61_72_6B_01UL, 7)),
                    DebitAccountId = Id(debit),
                    CreditAccountId = Id(UInt128.Parse(FakeBank.DemoAccountLedgerId, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture)),
                    Amount = 25_000,
                    Currency = "GBP",
                    Code = 1,
                    Flags = flags,
                },
            },
        };

        // A customer's money moved by one staff member, or a hold from the funding account: refused, not audited, not forwarded.
        var customersMoney = await Assert.ThrowsAsync<RpcException>(() => ledger.SubmitTransfersAsync(
            Submit(UInt128.Parse(FakeBank.DemoAccountLedgerId, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture))).ResponseAsync);
        var hold = await Assert.ThrowsAsync<RpcException>(() => ledger.SubmitTransfersAsync(
            Submit(FundingAccount, (uint)Bulwark.Ledger.Protos.TransferFlags.Pending)).ResponseAsync);
        Assert.Equal((StatusCode.PermissionDenied, StatusCode.PermissionDenied), (customersMoney.StatusCode, hold.StatusCode));
        Assert.Contains("only an opening balance moves money from the command line", customersMoney.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("is a hold, a post or a void", hold.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(edge.Audit.Entries);

        // An opening balance passes the gateway: audited first with what moves, then forwarded (the fake ledger answers it).
        var forwarded = await Record.ExceptionAsync(() => ledger.SubmitTransfersAsync(Submit(FundingAccount)).ResponseAsync);
        Assert.False(forwarded is RpcException { StatusCode: StatusCode.PermissionDenied or StatusCode.InvalidArgument or StatusCode.Unauthenticated }, forwarded?.Message);
        var entry = Assert.Single(edge.Audit.Entries);
        Assert.Equal("/bulwark.ledger.v1.Ledger/SubmitTransfers", entry.Subject);
        Assert.Contains($"25000 GBP to {FakeBank.DemoAccountLedgerId}", entry.Details!["transfers"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("compressed")]
    [InlineData("two messages")]
    [InlineData("length beyond the body")]
    [InlineData("not protobuf")]
    [InlineData("oversize")]
    public async Task LedgerTransfer_BodyThatIsNotOneUncompressedMessage_PermissionDenied_NotAuditedNorForwarded(string shape)
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var token = await LoginAsync(edge, OpsEmail);
        var message = new Bulwark.Ledger.Protos.SubmitTransfersRequest
        {
            IdNamespace = Bulwark.Ledger.Protos.IdNamespace.Bank,
            Transfers = { new Bulwark.Ledger.Protos.Transfer { Id = Id(7UL), DebitAccountId = Id(FundingAccount), CreditAccountId = Id(9UL), Amount = 100, Currency = "GBP", Code = 1 } },
        }.ToByteArray();
        static byte[] Framed(byte flag, byte[] payload, int? length = null)
        {
            var framed = new byte[5 + payload.Length];
            framed[0] = flag;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1, 4), (uint)(length ?? payload.Length));
            payload.CopyTo(framed, 5);
            return framed;
        }
        var body = shape switch
        {
            // The flag says compressed: the gateway cannot see what it would forward.
            "compressed" => Framed(1, message),
            // A valid opening balance followed by a second message the ledger would also read.
            "two messages" => [.. Framed(0, message), .. Framed(0, message)],
            "length beyond the body" => Framed(0, message, message.Length + 10),
            "not protobuf" => Framed(0, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
            _ => Framed(0, new byte[200_000]),
        };
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(edge.Host.OperatorAddress!, "/bulwark.ledger.v1.Ledger/SubmitTransfers"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        request.Headers.Add("authorization", "Bearer " + token);
        request.Headers.Add("x-bulwark-reason", "opening balance");
        request.Headers.TryAddWithoutValidation("te", "trailers");

        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();

        string? Grpc(string name) =>
            response.Headers.TryGetValues(name, out var values) || response.TrailingHeaders.TryGetValues(name, out values) ? values.First() : null;
        Assert.Equal(((int)StatusCode.PermissionDenied).ToString(System.Globalization.CultureInfo.InvariantCulture), Grpc("grpc-status"));
        Assert.Contains("only as an opening balance", Uri.UnescapeDataString(Grpc("grpc-message") ?? ""), StringComparison.Ordinal);
        Assert.Empty(edge.Audit.Entries);
    }

    /// <summary>The bank's funding account, which stands for money arriving from outside ("Bulwark\0", 1).</summary>
    private static readonly UInt128 FundingAccount = new(0x42_75_6C_77_61_72_6B_00UL, 1);

    private static Bulwark.Ledger.Protos.Uint128 Id(UInt128 value) => new() { High = (ulong)(value >> 64), Low = (ulong)value };

    [Fact]
    public async Task UnknownMethod_PermissionDenied_DenyByDefault()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var token = await LoginAsync(edge, OpsEmail);

        // A method of the services' own traffic (a customer's login) is not in the table, whoever asks.
        var login = await Assert.ThrowsAsync<RpcException>(() => edge.Accounts(token, "trying").AuthenticateAsync(new AuthenticateRequest { Email = "x@y.z", Password = "p" }).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, login.StatusCode);
        Assert.Contains("does not forward /bulwark.accounts.v1.Accounts/Authenticate", login.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(edge.Audit.Entries);
    }

    [Fact]
    public async Task NoReason_InvalidArgumentNamingTheHeader()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var token = await LoginAsync(edge, OpsEmail);

        var missing = await Assert.ThrowsAsync<RpcException>(() => edge.Accounts(token, null).GetCustomerAsync(new GetCustomerRequest { CustomerId = FakeBank.DemoCustomerId }).ResponseAsync);
        var blank = await Assert.ThrowsAsync<RpcException>(() => edge.Accounts(token, "%20%20").GetCustomerAsync(new GetCustomerRequest { CustomerId = FakeBank.DemoCustomerId }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, blank.StatusCode);
        Assert.Contains("x-bulwark-reason", missing.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(edge.Audit.Entries);
    }

    [Fact]
    public async Task SourceOutsideTheRanges_PermissionDenied_BeforeAnythingElse()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var token = await LoginAsync(edge, OpsEmail);
        edge.Ranges.Set(["10.0.0.0/8"]);

        var refused = await Assert.ThrowsAsync<RpcException>(() => edge.Accounts(token, "a reason").GetCustomerAsync(new GetCustomerRequest { CustomerId = FakeBank.DemoCustomerId }).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Contains("127.0.0.1 is not in them", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(edge.Audit.Entries);
    }

    [Fact]
    public async Task AuditLogDown_Unavailable_NothingForwarded()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var token = await LoginAsync(edge, OpsEmail);
        var before = edge.Host.Bank.CallCount(FakeAccounts.Service);
        edge.Audit.Down = true;

        var refused = await Assert.ThrowsAsync<RpcException>(() => edge.Accounts(token, "a reason").CreateCustomerAsync(new CreateCustomerRequest
        {
            Name = "New Customer",
            Email = "new@example.com",
        }).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("audit log could not record", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(before, edge.Host.Bank.CallCount(FakeAccounts.Service));
    }

    [Fact]
    public async Task HungService_UnavailableWithinTheGatewaysBound_SayingWhichService()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var token = await LoginAsync(edge, OpsEmail);
        edge.Host.Bank.Delay(FakeAccounts.Service, TimeSpan.FromMinutes(5));
        var clock = Stopwatch.StartNew();

        // No deadline of the caller's own: the gateway's bound (2 s here) is the one that holds.
        var hung = await Assert.ThrowsAsync<RpcException>(() => edge.Accounts(token, "a reason").GetCustomerAsync(new GetCustomerRequest { CustomerId = FakeBank.DemoCustomerId }).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, hung.StatusCode);
        Assert.Contains("accounts service", hung.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("did not answer within 2 s", hung.Status.Detail, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    private sealed class Edge(EdgeHost host, MutableRanges ranges, RecordingAudit audit) : IAsyncDisposable
    {
        private readonly GrpcChannel _channel = GrpcChannel.ForAddress(host.OperatorAddress!);

        public EdgeHost Host { get; } = host;

        public MutableRanges Ranges { get; } = ranges;

        public RecordingAudit Audit { get; } = audit;

        /// <summary>An accounts client at the operator port whose calls carry <paramref name="token"/> and <paramref name="reason"/> (already percent-encoded).</summary>
        public Bulwark.Accounts.Protos.Accounts.AccountsClient Accounts(string? token, string? reason) => new(Invoker(token, reason));

        /// <summary>A ledger client at the operator port, as <see cref="Accounts"/>.</summary>
        public Bulwark.Ledger.Protos.Ledger.LedgerClient Ledger(string? token, string? reason) => new(Invoker(token, reason));

        private CallInvoker Invoker(string? token, string? reason) =>
            _channel.Intercept(metadata =>
            {
                if (token is not null)
                {
                    metadata.Add("authorization", "Bearer " + token);
                }
                if (reason is not null)
                {
                    metadata.Add("x-bulwark-reason", reason);
                }
                return metadata;
            });

        public async ValueTask DisposeAsync()
        {
            _channel.Dispose();
            await Host.DisposeAsync();
        }
    }

    private static async Task<Edge> StartAsync(IReadOnlyList<string> ranges)
    {
        var allowed = new MutableRanges(ranges);
        var audit = new RecordingAudit();
        var host = await EdgeHost.StartAsync(staff: (services, path) =>
        {
            services.AddSingleton<IStaffSourceRanges>(allowed);
            services.AddSingleton<IStaffAuthenticator>(new Directory());
            services.AddSingleton<IStaffAuditLog>(audit);
            services.AddStaffEdge(new StaffEdgeOptions
            {
                SigningKeyPath = Path.Combine(path, "keys", "staff-signing.key"),
                OperatorCallTimeout = TimeSpan.FromSeconds(2),
            });
        }, operatorGateway: true);
        return new Edge(host, allowed, audit);
    }

    private static async Task<string> LoginAsync(Edge edge, string email)
    {
        using var http = new HttpClient { BaseAddress = edge.Host.StaffAddress };
        using var response = await http.PostAsync(new Uri("/staff/api/login", UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(new { email, password = Password, totp = Code }), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    private sealed class MutableRanges(IReadOnlyList<string> initial) : IStaffSourceRanges
    {
        private StaffRanges _current = new(new SourceNetworks(initial), "test");

        public StaffRanges Current => Volatile.Read(ref _current);

        public void Set(IReadOnlyList<string> ranges) => Volatile.Write(ref _current, new StaffRanges(new SourceNetworks(ranges), "test"));
    }

    /// <summary>An operations member and a support-only member, each with the fixed password and code.</summary>
    private sealed class Directory : IStaffAuthenticator
    {
        public Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken)
        {
            StaffLoginOutcome outcome = password != Password || totpCode != Code ? new StaffLoginOutcome.Refused()
                : email == OpsEmail ? new StaffLoginOutcome.Authenticated(new StaffMember("staff-ops", "Olive Ops", ["support", "operations"]))
                : email == SupportEmail ? new StaffLoginOutcome.Authenticated(new StaffMember("staff-support", "Sam Support", ["support"]))
                : new StaffLoginOutcome.Refused();
            return Task.FromResult(outcome);
        }
    }

    internal sealed record AuditEntry(StaffActor Actor, string Action, string Subject, string Reason, IReadOnlyDictionary<string, string>? Details);

    /// <summary>The audit log as a list; <see cref="Down"/> makes it answer as the support service does when unreachable.</summary>
    internal sealed class RecordingAudit : IStaffAuditLog
    {
        private readonly List<AuditEntry> _entries = [];

        public bool Down { get; set; }

        public IReadOnlyList<AuditEntry> Entries
        {
            get
            {
                lock (_entries)
                {
                    return [.. _entries];
                }
            }
        }

        public Task<long> AppendAsync(StaffActor actor, string action, string subject, string reason, IReadOnlyDictionary<string, string>? details, CancellationToken cancellationToken)
        {
            if (Down)
            {
                throw new Bulwark.Edge.Services.ServiceCallException("support", new RpcException(new Status(StatusCode.Unavailable, "support is down")));
            }
            lock (_entries)
            {
                _entries.Add(new AuditEntry(actor, action, subject, reason, details));
                return Task.FromResult((long)_entries.Count);
            }
        }
    }
}
