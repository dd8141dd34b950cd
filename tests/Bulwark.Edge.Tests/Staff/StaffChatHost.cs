using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Bulwark.Edge.Staff;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Tests.Staff;

/// <summary>
/// An edge host with the staff edge, a staff directory of three members (support, operations,
/// admin only) and an audit log that records what the edge writes to it.
/// </summary>
public sealed class StaffChatHost : IAsyncDisposable
{
    public const string SupportEmail = "olive@bank.example";
    public const string OperationsEmail = "omar@bank.example";
    public const string AdminEmail = "ada@bank.example";
    public const string Password = "a long staff password";
    public const string Code = "123456";
    public const string SupportStaffId = "0193a4b2-0000-7000-8000-000000000001";

    private StaffChatHost(EdgeHost host, RecordingAuditLog audit)
    {
        Host = host;
        Audit = audit;
    }

    public EdgeHost Host { get; }

    public RecordingAuditLog Audit { get; }

    public Uri Staff => Host.StaffAddress!;

    public static async Task<StaffChatHost> StartAsync()
    {
        var audit = new RecordingAuditLog();
        var host = await EdgeHost.StartAsync(staff: (services, path) =>
        {
            services.AddSingleton<IStaffAuthenticator>(new Members());
            services.AddSingleton<IStaffAuditLog>(audit);
            services.AddStaffEdge(new StaffEdgeOptions { SigningKeyPath = Path.Combine(path, "keys", "staff-signing.key") });
        });
        return new StaffChatHost(host, audit);
    }

    public async Task<string> LoginAsync(string email = SupportEmail)
    {
        using var http = new HttpClient { BaseAddress = Staff };
        using var response = await http.PostAsync(new Uri("/staff/api/login", UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(new { email, password = Password, totp = Code }), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? token, object? body = null)
    {
        using var http = new HttpClient { BaseAddress = Staff, Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return await http.SendAsync(request);
    }

    public ValueTask DisposeAsync() => Host.DisposeAsync();

    /// <summary>What the staff edge appended to the audit log.</summary>
    public sealed class RecordingAuditLog : IStaffAuditLog
    {
        private readonly Lock _sync = new();
        private readonly List<(StaffActor Actor, string Action, string Subject, string Reason)> _entries = [];

        public IReadOnlyList<(StaffActor Actor, string Action, string Subject, string Reason)> Entries
        {
            get
            {
                lock (_sync)
                {
                    return [.. _entries];
                }
            }
        }

        public Task<long> AppendAsync(StaffActor actor, string action, string subject, string reason, IReadOnlyDictionary<string, string>? details, CancellationToken cancellationToken)
        {
            lock (_sync)
            {
                _entries.Add((actor, action, subject, reason));
                return Task.FromResult((long)_entries.Count);
            }
        }
    }

    private sealed class Members : IStaffAuthenticator
    {
        public Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken)
        {
            StaffMember? member = password != Password || totpCode != Code ? null : email switch
            {
                SupportEmail => new StaffMember(SupportStaffId, "Olive Ops", ["support"]),
                OperationsEmail => new StaffMember("0193a4b2-0000-7000-8000-000000000002", "Omar Ops", ["operations"]),
                AdminEmail => new StaffMember("0193a4b2-0000-7000-8000-000000000003", "Ada Admin", ["admin"]),
                _ => null,
            };
            return Task.FromResult<StaffLoginOutcome>(member is null ? new StaffLoginOutcome.Refused() : new StaffLoginOutcome.Authenticated(member));
        }
    }
}
