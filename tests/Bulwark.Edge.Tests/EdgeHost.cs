using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Bulwark.Edge.Staff;
using Bulwark.Edge.Tests.Fakes;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Bulwark.Edge.Tests;

/// <summary>
/// A real Bulwark host on loopback with the edge on a public endpoint and fake accounts, feed,
/// ledger and chat (support) services registered under their real names, reached by the edge over bulwark:/// gRPC.
/// </summary>
public sealed class EdgeHost : IAsyncDisposable
{
    private readonly string _directory;

    private EdgeHost(WebApplication app, FakeBank bank, FakeTimeProvider time, Uri baseAddress, string directory, string signingKeyPath)
    {
        DataDirectory = directory;
        App = app;
        Bank = bank;
        Time = time;
        BaseAddress = baseAddress;
        SigningKeyPath = signingKeyPath;
        _directory = directory;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }

    /// <summary>The host's temporary directory (keys live under it).</summary>
    public string DataDirectory { get; }

    /// <summary>The staff edge's address when the host was started with one, else null.</summary>
    public Uri? StaffAddress { get; private set; }

    /// <summary>The staff edge's operator gateway (HTTP/2) when the host was started with one, else null.</summary>
    public Uri? OperatorAddress { get; private set; }

    public FakeBank Bank { get; }

    /// <summary>The chat service behind the Help screen and the staff console.</summary>
    public FakeChat Chat => App.Services.GetRequiredService<FakeChat>();

    public FakeTimeProvider Time { get; }

    public Uri BaseAddress { get; }

    public string SigningKeyPath { get; }

    public HttpClient Http { get; }

    /// <summary>
    /// Starts a host. <paramref name="options"/> makes the edge's options from the signing key path;
    /// <paramref name="signingKeyPath"/> and <paramref name="bank"/> let two hosts play two edges sharing
    /// a key directory and the services behind them.
    /// </summary>
    /// <param name="staff">
    /// Also runs the staff edge on a staff endpoint of its own: called with the services and the
    /// host's directory, it adds the staff edge (and what the test puts behind it).
    /// </param>
    public static async Task<EdgeHost> StartAsync(TimeSpan? serviceCallTimeout = null, Func<string, EdgeOptions>? options = null,
        string? signingKeyPath = null, FakeBank? bank = null, Action<IServiceCollection, string>? staff = null,
        Action<WebApplication>? map = null, bool fakeChat = true, bool operatorGateway = false)
    {
        var directory = Directory.CreateTempSubdirectory("bulwark-edge-tests-").FullName;
        signingKeyPath ??= Path.Combine(directory, "keys", "edge-signing.key");
        bank ??= new FakeBank();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
        {
            PublicEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            StaffEndpoint = staff is null ? null : new IPEndPoint(IPAddress.Loopback, 0),
            OperatorEndpoint = staff is not null && operatorGateway ? new IPEndPoint(IPAddress.Loopback, 0) : null,
            ConsoleLogLevel = LogLevel.Error,
        }, new InMemoryServiceRegistry());
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddSingleton(bank);
        builder.Services.AddHostedBulwarkService(FakeAccounts.Service);
        builder.Services.AddHostedBulwarkService(FakeFeed.Service);
        builder.Services.AddHostedBulwarkService(FakeLedger.Service);
        // The "support" service name is this host either way; with fakeChat false the test maps the real support service (map).
        builder.Services.AddHostedBulwarkService(FakeChat.Service);
        if (fakeChat)
        {
            builder.Services.AddSingleton<FakeChat>();
        }
        builder.Services.AddEdge(options?.Invoke(signingKeyPath) ?? new EdgeOptions
        {
            SigningKeyPath = signingKeyPath,
            // Generous unless a test is about the deadline: with many hosts in parallel on 2 loaded
            // cores a fake service's answer to a login took over 5 s, and the login failed with 504.
            ServiceCallTimeout = serviceCallTimeout ?? TimeSpan.FromSeconds(30),
        });
        staff?.Invoke(builder.Services, directory);

        var app = builder.Build();
        app.UsePlatform();
        app.MapGrpcService<FakeAccounts>();
        app.MapGrpcService<FakeFeed>();
        app.MapGrpcService<FakeLedger>();
        if (fakeChat)
        {
            app.MapGrpcService<FakeChat>();
        }
        if (staff is not null)
        {
            app.MapStaffEdge();
        }
        map?.Invoke(app);
        app.MapEdge();
        await app.StartAsync();

        var endpoints = app.Services.GetRequiredService<InternalEndpointAccessor>();
        var publicAddress = new Uri($"http://{endpoints.GetPublic()}/");
        return new EdgeHost(app, bank, time, publicAddress, directory, signingKeyPath)
        {
            StaffAddress = endpoints.GetStaff() is { } staffEndpoint ? new Uri($"http://{staffEndpoint}/") : null,
            OperatorAddress = endpoints.GetOperator() is { } operatorEndpoint ? new Uri($"http://{operatorEndpoint}/") : null,
        };
    }

    /// <summary>Logs in as the demo customer (or another) and returns the bearer token.</summary>
    public async Task<string> LoginAsync(string email = FakeBank.DemoEmail, string password = FakeBank.DemoPassword)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/login", JsonSerializer.Serialize(new { email, password }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? json = null, string? token = null,
        string? idempotencyKey = null, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }
        return await Http.SendAsync(request);
    }

    public static string NewIdempotencyKey() => Guid.NewGuid().ToString("N");

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
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
