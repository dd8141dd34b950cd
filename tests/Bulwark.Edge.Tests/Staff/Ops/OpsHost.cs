using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Bulwark.Config;
using Bulwark.Edge.BankStatus;
using Bulwark.Edge.Staff;
using Bulwark.Edge.Staff.Ops;
using Bulwark.Platform.Configuration;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Edge.Tests.Staff.Ops;

/// <summary>
/// The ops view's bank in two hosts on one registry, as two processes of a cluster: the real
/// configuration service (stoppable, restartable on another database) and one process with the
/// customer edge and the staff edge, reading configuration through the platform's client. Staff log
/// in through a stand-in directory (<see cref="OpsStaff"/>); audit entries are recorded in memory.
/// </summary>
public sealed class OpsHost : IAsyncDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly string _directory = Directory.CreateTempSubdirectory("bulwark-ops-").FullName;
    private WebApplication? _config;

    private OpsHost()
    {
    }

    public InMemoryServiceRegistry Registry { get; } = new();

    public RecordingAuditLog Audit { get; } = new();

    public WebApplication Edge { get; private set; } = null!;

    public Uri PublicAddress { get; private set; } = null!;

    public Uri StaffAddress { get; private set; } = null!;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

    public ConfigValues ConfigValues => Edge.Services.GetRequiredService<ConfigValues>();

    /// <summary>Starts the configuration service and the edges. <paramref name="configure"/> adds the test's fakes before the ops view.</summary>
    public static async Task<OpsHost> StartAsync(OpsOptions? ops = null, Action<IServiceCollection>? configure = null)
    {
        var host = new OpsHost();
        await host.StartConfigAsync("config");
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
        {
            PublicEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            StaffEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            ConsoleLogLevel = LogLevel.Error,
        }, host.Registry);
        builder.Services.AddBulwarkConfig(new ConfigClientOptions
        {
            Prefixes = [ConfigStaffSourceRanges.Prefix, StatusBanner.Prefix],
            CachePath = Path.Combine(host._directory, "edge", "config-cache.json"),
            ProgressIntervalMilliseconds = 500,
        });
        builder.Services.AddSingleton<IStatusBannerSource, ConfigStatusBanner>();
        builder.Services.AddSingleton<IStaffAuthenticator, OpsStaff>();
        builder.Services.AddSingleton<IStaffAuditLog>(host.Audit);
        configure?.Invoke(builder.Services);
        builder.Services.AddEdge(new EdgeOptions { SigningKeyPath = Path.Combine(host._directory, "keys", "edge-signing.key"), ServiceCallTimeout = TimeSpan.FromSeconds(30) });
        builder.Services.AddStaffEdge(new StaffEdgeOptions { SigningKeyPath = Path.Combine(host._directory, "keys", "staff-signing.key") });
        builder.Services.AddStaffOps(ops ?? new OpsOptions { ProbeTimeout = TimeSpan.FromSeconds(1), SampleInterval = TimeSpan.FromSeconds(1) });
        var app = builder.Build();
        app.UsePlatform();
        app.MapStaffEdge();
        app.MapEdge();
        await app.StartAsync();
        var endpoints = app.Services.GetRequiredService<InternalEndpointAccessor>();
        host.Edge = app;
        host.PublicAddress = new Uri($"http://{endpoints.GetPublic()}/");
        host.StaffAddress = new Uri($"http://{endpoints.GetStaff()}/");
        return host;
    }

    /// <summary>The configuration service's own client (as an operator's CLI reaches it).</summary>
    public Config.Protos.Config.ConfigClient ConfigClient() =>
        new(_config!.Services.GetRequiredService<IServiceChannelFactory>().GetChannel(ConfigServiceCollectionExtensions.ServiceName));

    /// <summary>Starts the configuration service on the database in <paramref name="name"/> (another name: a store restored from a backup that never held the keys).</summary>
    public async Task StartConfigAsync(string name)
    {
        var directory = Path.Combine(_directory, name);
        Directory.CreateDirectory(directory);
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Error }, Registry);
        builder.Services.AddConfig(new ConfigOptions { DatabasePath = Path.Combine(directory, "config.db") });
        var app = builder.Build();
        app.UsePlatform();
        app.MapConfig();
        await app.StartAsync();
        _config = app;
    }

    public async Task StopConfigAsync()
    {
        await _config!.StopAsync();
        await _config.DisposeAsync();
        _config = null;
        SqliteConnection.ClearAllPools();
    }

    public async Task<string> LoginAsync(string email)
    {
        using var response = await Http.PostAsync(new Uri(StaffAddress, "/staff/api/login"), new StringContent(
            JsonSerializer.Serialize(new { email, password = OpsStaff.Password, totp = OpsStaff.Code }), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    public async Task<HttpResponseMessage> StaffAsync(HttpMethod method, string path, string token, object? body = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(StaffAddress, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        return await Http.SendAsync(request);
    }

    /// <summary>The customer edge's <c>GET /api/v1/status</c> banner message, or null when it shows none.</summary>
    public async Task<string?> BannerMessageAsync()
    {
        using var response = await Http.GetAsync(new Uri(PublicAddress, "/api/v1/status"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var banner = json.RootElement.GetProperty("banner");
        return banner.ValueKind == JsonValueKind.Null ? null : banner.GetProperty("message").GetString();
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> done, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await done())
        {
            Assert.True(deadline.Elapsed < Bound, $"waited {Bound.TotalSeconds:0} s for {what}");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        foreach (var app in new[] { Edge, _config })
        {
            if (app is not null)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary directory is harmless.
        }
    }
}

/// <summary>The staff directory's stand-in: an operations member and a support member, one password and code.</summary>
public sealed class OpsStaff : IStaffAuthenticator
{
    public const string Operations = "olive@bulwark.example";
    public const string Support = "sam@bulwark.example";
    public const string Password = "correct horse battery staple";
    public const string Code = "123456";

    public Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken) =>
        Task.FromResult<StaffLoginOutcome>((email, password == Password && totpCode == Code) switch
        {
            (Operations, true) => new StaffLoginOutcome.Authenticated(new StaffMember("staff-ops", "Olive Ops", ["operations"])),
            (Support, true) => new StaffLoginOutcome.Authenticated(new StaffMember("staff-support", "Sam Support", ["support"])),
            _ => new StaffLoginOutcome.Refused(),
        });
}

/// <summary>The audit log's stand-in: keeps every entry.</summary>
public sealed class RecordingAuditLog : IStaffAuditLog
{
    public ConcurrentQueue<(string StaffId, string Action, string Subject, string Reason, IReadOnlyDictionary<string, string>? Details)> Entries { get; } = new();

    /// <summary>Runs once, after the next entry is recorded: what happens between the audit and the change.</summary>
    public Func<Task>? AfterNextAppend { get; set; }

    public async Task<long> AppendAsync(StaffActor actor, string action, string subject, string reason, IReadOnlyDictionary<string, string>? details, CancellationToken cancellationToken)
    {
        Entries.Enqueue((actor.StaffId, action, subject, reason, details));
        var count = Entries.Count;
        if (Interlocked.Exchange(ref _afterNextAppendTaken, 1) == 0 && AfterNextAppend is { } after)
        {
            await after();
        }
        return count;
    }

    private int _afterNextAppendTaken;
}
