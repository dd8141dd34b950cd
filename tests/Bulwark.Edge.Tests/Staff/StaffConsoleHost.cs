using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Bulwark.Edge.Services;
using Bulwark.Edge.Staff;
using Bulwark.Platform.Security;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Tests.Staff;

/// <summary>
/// The public edge and the staff edge in one host over the fake accounts, feed and ledger, with a
/// staff directory of one member per role (<see cref="StaffDirectoryStandIn"/>) and an audit log
/// that records entries (<see cref="RecordingAudit"/>).
/// </summary>
public sealed record StaffConsoleHost(EdgeHost Host, Uri Staff, RecordingAudit Audit) : IAsyncDisposable
{
    public const string Password = "correct horse battery staple";
    public const string Code = "123456";
    public const string SupportEmail = "support@bulwark.example";
    public const string OperationsEmail = "ops@bulwark.example";
    public const string AdminEmail = "admin@bulwark.example";

    public ValueTask DisposeAsync() => Host.DisposeAsync();

    public static async Task<StaffConsoleHost> StartAsync()
    {
        var audit = new RecordingAudit();
        var host = await EdgeHost.StartAsync(staff: (services, path) =>
        {
            services.AddSingleton<IStaffSourceRanges>(new LoopbackRanges());
            services.AddSingleton<IStaffAuthenticator>(new StaffDirectoryStandIn());
            services.AddSingleton<IStaffAuditLog>(audit);
            services.AddStaffEdge(new StaffEdgeOptions { SigningKeyPath = Path.Combine(path, "keys", "staff-signing.key") });
        });
        return new StaffConsoleHost(host, host.StaffAddress!, audit);
    }

    public async Task<string> LoginAsync(string email)
    {
        using var response = await SendAsync(HttpMethod.Post, "/staff/api/login", null, new { email, password = Password, totp = Code });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    public async Task<JsonDocument> GetJsonAsync(string path, string token)
    {
        using var response = await SendAsync(HttpMethod.Get, path, token);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body);
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? token, object? body = null)
    {
        using var http = new HttpClient { BaseAddress = Staff };
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

    private sealed class LoopbackRanges : IStaffSourceRanges
    {
        public StaffRanges Current { get; } = new(new SourceNetworks(["127.0.0.0/8"]), "test");
    }
}

/// <summary>
/// One staff member per role — support@, ops@ (operations), admin@ bulwark.example — with
/// <see cref="StaffConsoleHost.Password"/> and the fixed code <see cref="StaffConsoleHost.Code"/>;
/// staff ids staff-support, staff-operations, staff-admin.
/// </summary>
public sealed class StaffDirectoryStandIn : IStaffAuthenticator
{
    public Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(email);
        var role = email.Split('@')[0] switch { "support" => "support", "ops" => "operations", "admin" => "admin", _ => null };
        StaffLoginOutcome outcome = role is not null && password == StaffConsoleHost.Password && totpCode == StaffConsoleHost.Code
            ? new StaffLoginOutcome.Authenticated(new StaffMember($"staff-{role}", $"Staff {role}", [role]))
            : new StaffLoginOutcome.Refused();
        return Task.FromResult(outcome);
    }
}

public sealed record RecordedAuditEntry(long Sequence, StaffActor Actor, string Action, string Subject, string Reason, IReadOnlyDictionary<string, string>? Details);

/// <summary>Keeps every entry in order; fails every append with <see cref="FailWith"/> when set, as an unreachable support service does.</summary>
public sealed class RecordingAudit : IStaffAuditLog
{
    private readonly ConcurrentQueue<RecordedAuditEntry> _entries = new();
    private long _sequence;

    public StatusCode? FailWith { get; set; }

    public IReadOnlyList<RecordedAuditEntry> Entries => [.. _entries];

    public Task<long> AppendAsync(StaffActor actor, string action, string subject, string reason, IReadOnlyDictionary<string, string>? details, CancellationToken cancellationToken)
    {
        if (FailWith is { } code)
        {
            throw new ServiceCallException("support", new RpcException(new Status(code, "the support service is not there")));
        }
        if (string.IsNullOrWhiteSpace(reason))
        {
            // As the support service's Audit.Append: every entry says why.
            throw new ServiceCallException("support", new RpcException(new Status(StatusCode.InvalidArgument, "reason is required"), [new Metadata.Entry("bulwark-field", "reason")]));
        }
        var sequence = Interlocked.Increment(ref _sequence);
        _entries.Enqueue(new RecordedAuditEntry(sequence, actor, action, subject, reason, details));
        return Task.FromResult(sequence);
    }
}
