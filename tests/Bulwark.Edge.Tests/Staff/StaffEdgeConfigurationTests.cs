using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Bulwark.Config;
using Bulwark.Config.Protos;
using Bulwark.Edge.Staff;
using Bulwark.Edge.Tests.Fakes;
using Bulwark.Platform.Configuration;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Bulwark.Edge.Tests.Staff;

/// <summary>
/// The 2019 symptom chain (R14), whole: the staff edge reads its allowed ranges from the real
/// configuration service through the platform's client, staff work through the console's API, and
/// then the configuration service goes away, and comes back restored from a backup that never held
/// the ranges (its answer: the key is not found) — staff traffic keeps flowing on the last good
/// ranges, the client counts what it refused, nothing is rejected; then a deliberate change of the
/// ranges applies within seconds. Two hosts on one registry, as two processes of a cluster.
/// </summary>
public sealed class StaffEdgeConfigurationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly InMemoryServiceRegistry _registry = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("bulwark-staff-config-").FullName;
    private WebApplication? _config;
    private WebApplication? _edge;

    private readonly RecordingAudit _audit = new();

    [Fact]
    public async Task Chain2019_ConfigurationDownThenRestoredWithoutTheRanges_StaffKeepWorking_ThenADeliberateChangeApplies()
    {
        _config = await StartConfigAsync(Path.Combine(_directory, "config"));
        var put = await ConfigClient().PutAsync(new PutRequest { Key = ConfigStaffSourceRanges.Key, Value = "127.0.0.0/8, 10.20.0.0/16", Reason = "staff networks" });
        _edge = await StartEdgeAsync();
        var staff = new Uri($"http://{_edge.Services.GetRequiredService<InternalEndpointAccessor>().GetStaff()}/");
        var token = await LoginAsync(staff);
        var me = await WaitForAsync(staff, token, json => json.GetProperty("allowedRanges").GetString() == "127.0.0.0/8, 10.20.0.0/16");
        Assert.Contains($"revision {put.Entry.Version}", me.GetProperty("allowedRangesOrigin").GetString(), StringComparison.Ordinal);

        // 1. The configuration service goes away (its process stopped): staff keep working.
        await StopConfigAsync();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(staff, token));
        }

        // 2. It comes back restored from a backup that never held the ranges: for it the key is "not
        //    found", at a revision below what the edge has seen. The edge keeps the last good ranges.
        var values = _edge.Services.GetRequiredService<ConfigValues>();
        _config = await StartConfigAsync(Path.Combine(_directory, "config-old-backup"));
        await WaitUntilAsync(() => values.RevisionWentBackCount + values.UntrustedNotFoundCount > 0, "the edge's client to refuse the restored store's answers");
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(staff, token));
        }
        me = await WaitForAsync(staff, token, _ => true);
        Assert.Equal("127.0.0.0/8, 10.20.0.0/16", me.GetProperty("allowedRanges").GetString());
        // Every search went through and is in the audit log: nothing was rejected.
        Assert.Equal(10, _audit.Entries.Count(entry => entry.Action == "customer.searched"));
        output.WriteLine($"while restored from the old backup: {me.GetProperty("allowedRangesOrigin").GetString()}");

        // 3. The real store is back and an operator deliberately narrows the ranges: it applies.
        await StopConfigAsync();
        _config = await StartConfigAsync(Path.Combine(_directory, "config"));
        var changed = Stopwatch.StartNew();
        await ConfigClient().PutAsync(new PutRequest { Key = ConfigStaffSourceRanges.Key, Value = "10.20.0.0/16", ExpectedVersion = put.Entry.Version, Reason = "loopback no longer a staff network" });
        await WaitUntilAsync(async () => await StatusAsync(staff, token) == HttpStatusCode.Forbidden, "the narrowed ranges to refuse loopback");
        output.WriteLine($"the deliberate change refused loopback {changed.Elapsed.TotalSeconds:0.0} s after it was made");
    }

    private Config.Protos.Config.ConfigClient ConfigClient() =>
        new(_config!.Services.GetRequiredService<IServiceChannelFactory>().GetChannel(ConfigServiceCollectionExtensions.ServiceName));

    private async Task<WebApplication> StartConfigAsync(string directory)
    {
        Directory.CreateDirectory(directory);
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Error }, _registry);
        builder.Services.AddConfig(new ConfigOptions { DatabasePath = Path.Combine(directory, "config.db") });
        var app = builder.Build();
        app.UsePlatform();
        app.MapConfig();
        await app.StartAsync();
        return app;
    }

    private async Task StopConfigAsync()
    {
        await _config!.StopAsync();
        await _config.DisposeAsync();
        _config = null;
        SqliteConnection.ClearAllPools();
    }

    private async Task<WebApplication> StartEdgeAsync()
    {
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
        {
            StaffEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            ConsoleLogLevel = LogLevel.Error,
        }, _registry);
        builder.Services.AddBulwarkConfig(new ConfigClientOptions
        {
            Prefixes = [ConfigStaffSourceRanges.Prefix],
            CachePath = Path.Combine(_directory, "edge", "config-cache.json"),
            ProgressIntervalMilliseconds = 500,
        });
        builder.Services.AddSingleton<IStaffSourceRanges, ConfigStaffSourceRanges>();
        builder.Services.AddSingleton<IStaffAuthenticator, OneStaffMember>();
        // What the console reads (the fake accounts, feed and ledger) and the log its searches are written to.
        builder.Services.AddSingleton(new FakeBank());
        builder.Services.AddHostedBulwarkService(FakeAccounts.Service);
        builder.Services.AddHostedBulwarkService(FakeFeed.Service);
        builder.Services.AddHostedBulwarkService(FakeLedger.Service);
        builder.Services.AddSingleton<IStaffAuditLog>(_audit);
        builder.Services.AddStaffEdge(new StaffEdgeOptions { SigningKeyPath = Path.Combine(_directory, "edge", "keys", "staff-signing.key") });
        var app = builder.Build();
        app.UsePlatform();
        app.MapGrpcService<FakeAccounts>();
        app.MapGrpcService<FakeFeed>();
        app.MapGrpcService<FakeLedger>();
        app.MapStaffEdge();
        await app.StartAsync();
        return app;
    }

    private static async Task<string> LoginAsync(Uri staff)
    {
        using var http = new HttpClient { BaseAddress = staff };
        using var response = await http.PostAsync(new Uri("/staff/api/login", UriKind.Relative), new StringContent(
            JsonSerializer.Serialize(new { email = OneStaffMember.Email, password = OneStaffMember.Password, totp = OneStaffMember.Code }), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>A console search for the demo customer: what staff do at the console, through the gate.</summary>
    private static async Task<HttpStatusCode> StatusAsync(Uri staff, string token)
    {
        using var http = new HttpClient { BaseAddress = staff };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/staff/api/customers?reason=customer%20on%20the%20phone&name=alex", UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<JsonElement> WaitForAsync(Uri staff, string token, Func<JsonElement, bool> done)
    {
        using var http = new HttpClient { BaseAddress = staff };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/staff/api/me", UriKind.Relative));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            if (done(json.RootElement) || deadline.Elapsed > Bound)
            {
                return json.RootElement.Clone();
            }
            await Task.Delay(100);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> done, string what) => await WaitUntilAsync(() => Task.FromResult(done()), what);

    private static async Task WaitUntilAsync(Func<Task<bool>> done, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await done())
        {
            Assert.True(deadline.Elapsed < Bound, $"waited {Bound.TotalSeconds:0} s for {what}");
            await Task.Delay(100);
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var app in new[] { _edge, _config })
        {
            if (app is not null)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The staff directory's stand-in: one member with a fixed password and code.</summary>
    private sealed class OneStaffMember : IStaffAuthenticator
    {
        public const string Email = "ops@bulwark.example";
        public const string Password = "correct horse battery staple";
        public const string Code = "123456";

        public Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken) =>
            Task.FromResult<StaffLoginOutcome>(email == Email && password == Password && totpCode == Code
                ? new StaffLoginOutcome.Authenticated(new StaffMember("staff-1", "Olive Ops", ["operations"]))
                : new StaffLoginOutcome.Refused());
    }
}
