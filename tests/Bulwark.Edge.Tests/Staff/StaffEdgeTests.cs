using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Bulwark.Edge.Staff;
using Bulwark.Platform.Security;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Tests.Staff;

/// <summary>
/// The staff edge over real loopback HTTP, on its own port beside the app API: the source gate
/// (allowed ranges, trusted proxies), the separation of the two URL spaces, and staff tokens that
/// are not customer tokens and the other way round. The staff directory behind it is a stand-in
/// here (<see cref="Directory"/>); the support service's own tests cover the directory itself.
/// </summary>
public sealed class StaffEdgeTests
{
    private const string StaffEmail = "ops@bulwark.example";
    private const string StaffPassword = "correct horse battery staple";
    private const string StaffCode = "123456";

    [Fact]
    public async Task Login_FromAnAllowedSource_PasswordAndCode_StaffTokenThatReadsMe()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);

        var token = await LoginAsync(edge.Staff);
        using var me = await GetAsync(edge.Staff, "/staff/api/me", token);

        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        using var json = JsonDocument.Parse(await me.Content.ReadAsStringAsync());
        Assert.Equal("staff-1", json.RootElement.GetProperty("staffId").GetString());
        Assert.Equal(["support", "operations"], json.RootElement.GetProperty("roles").EnumerateArray().Select(role => role.GetString()));
        Assert.Equal("127.0.0.1", json.RootElement.GetProperty("source").GetString());
        Assert.Equal("127.0.0.0/8", json.RootElement.GetProperty("allowedRanges").GetString());
    }

    [Fact]
    public async Task AnyRequest_FromOutsideTheAllowedRanges_403SourceNotAllowed_BeforeAuthenticationOrRouting()
    {
        await using var edge = await StartAsync(["10.0.0.0/8"]);

        using var login = await PostAsync(edge.Staff, "/staff/api/login", new { email = StaffEmail, password = StaffPassword, totp = StaffCode });
        using var unknownPath = await GetAsync(edge.Staff, "/anything");

        foreach (var response in new[] { login, unknownPath })
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("/problems/source-not-allowed", problem.RootElement.GetProperty("type").GetString());
            Assert.Contains("127.0.0.1 is not in them", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        // The directory was never asked: the gate turned the login away before it.
        Assert.Equal(0, edge.Directory.Attempts);
    }

    [Fact]
    public async Task RangesChanged_TakeEffectAtTheNextRequest_BothWays()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var token = await LoginAsync(edge.Staff);

        edge.Ranges.Set(["192.0.2.0/24"]);
        using var refused = await GetAsync(edge.Staff, "/staff/api/me", token);
        edge.Ranges.Set(["192.0.2.0/24", "127.0.0.1"]);
        using var allowed = await GetAsync(edge.Staff, "/staff/api/me", token);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task ForwardedFor_BelievedOnlyFromATrustedProxy_TheRightMostUntrustedAddressIsTheSource()
    {
        await using var trusting = await StartAsync(["10.1.0.0/16"], trustedProxies: ["127.0.0.1"]);
        await using var untrusting = await StartAsync(["10.1.0.0/16"]);
        var token = await LoginThroughAsync(trusting.Staff, "10.1.2.3");

        using var inside = await GetAsync(trusting.Staff, "/staff/api/me", token, forwardedFor: "10.1.2.3");
        // A client inside the ranges cannot spoof: the proxy appends what it saw, and that is what counts.
        using var spoofed = await GetAsync(trusting.Staff, "/staff/api/me", token, forwardedFor: "10.1.2.3, 198.51.100.9");
        using var ignored = await GetAsync(untrusting.Staff, "/staff/api/me", token, forwardedFor: "10.1.2.3");
        using var malformed = await GetAsync(trusting.Staff, "/staff/api/me", token, forwardedFor: "10.1.2.3, not-an-address");
        using var tooLong = await GetAsync(trusting.Staff, "/staff/api/me", token, forwardedFor: string.Join(", ", Enumerable.Repeat("10.1.2.3", 17)));
        // Proxies may write a port, and IPv6 in brackets: still the address.
        using var withPort = await GetAsync(trusting.Staff, "/staff/api/me", token, forwardedFor: "[2001:db8::1]:4711, 10.1.2.3:4711");

        Assert.Equal(HttpStatusCode.OK, inside.StatusCode);
        using (var json = JsonDocument.Parse(await inside.Content.ReadAsStringAsync()))
        {
            Assert.Equal("10.1.2.3", json.RootElement.GetProperty("source").GetString());
        }
        Assert.Equal(HttpStatusCode.Forbidden, spoofed.StatusCode);
        Assert.Contains("198.51.100.9", await spoofed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, ignored.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, withPort.StatusCode);
        using var problem = JsonDocument.Parse(await malformed.Content.ReadAsStringAsync());
        Assert.Contains("'not-an-address' is not an IP address", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CustomerTokenOnTheStaffEdge_AndStaffTokenOnTheAppApi_BothRefused401()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        var customerToken = await edge.Host.LoginAsync();
        var staffToken = await LoginAsync(edge.Staff);

        using var customerOnStaff = await GetAsync(edge.Staff, "/staff/api/me", customerToken);
        using var staffOnApp = await GetAsync(edge.Host.BaseAddress, "/api/me", staffToken);

        Assert.Equal(HttpStatusCode.Unauthorized, customerOnStaff.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, staffOnApp.StatusCode);
        Assert.Contains("/problems/unauthenticated", await customerOnStaff.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StaffPathsOnThePublicPort_AndAppApiOnTheStaffPort_404()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);

        using var staffOnPublic = await PostAsync(edge.Host.BaseAddress, "/staff/api/login", new { email = StaffEmail, password = StaffPassword, totp = StaffCode });
        using var appOnStaff = await PostAsync(edge.Staff, "/api/login", new { email = "demo@bulwark.example", password = "bulwark-demo" });

        Assert.Equal(HttpStatusCode.NotFound, staffOnPublic.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, appOnStaff.StatusCode);
        Assert.Equal(0, edge.Directory.Attempts);
    }

    [Fact]
    public async Task Login_WrongCode_401InvalidCredentials_LockedMember_429WithRetryAfter_BadCode_400NamingTheField()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);

        using var wrong = await PostAsync(edge.Staff, "/staff/api/login", new { email = StaffEmail, password = StaffPassword, totp = "654321" });
        edge.Directory.LockedFor = TimeSpan.FromMinutes(2);
        using var locked = await PostAsync(edge.Staff, "/staff/api/login", new { email = StaffEmail, password = StaffPassword, totp = StaffCode });
        using var letters = await PostAsync(edge.Staff, "/staff/api/login", new { email = StaffEmail, password = StaffPassword, totp = "12ab56" });

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("/problems/invalid-credentials", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.Equal(TimeSpan.FromMinutes(2), locked.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.BadRequest, letters.StatusCode);
        using var problem = JsonDocument.Parse(await letters.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("totp", out _));
    }

    [Fact]
    public async Task Grpc_OnTheStaffPort_Refused()
    {
        await using var edge = await StartAsync(["127.0.0.0/8"]);
        using var http = new HttpClient { BaseAddress = edge.Staff };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/bulwark.accounts.v1.Accounts/Authenticate")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private sealed record StaffEdge(EdgeHost Host, Uri Staff, MutableRanges Ranges, Directory Directory) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    private static async Task<StaffEdge> StartAsync(IReadOnlyList<string> ranges, IReadOnlyList<string>? trustedProxies = null)
    {
        var allowed = new MutableRanges(ranges);
        var directory = new Directory();
        var host = await EdgeHost.StartAsync(staff: (services, path) =>
        {
            services.AddSingleton<IStaffSourceRanges>(allowed);
            services.AddSingleton<IStaffAuthenticator>(directory);
            services.AddStaffEdge(new StaffEdgeOptions
            {
                SigningKeyPath = Path.Combine(path, "keys", "staff-signing.key"),
                TrustedProxies = trustedProxies ?? [],
            });
        });
        return new StaffEdge(host, host.StaffAddress!, allowed, directory);
    }

    private static async Task<string> LoginAsync(Uri staff)
    {
        using var response = await PostAsync(staff, "/staff/api/login", new { email = StaffEmail, password = StaffPassword, totp = StaffCode });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    private static async Task<string> LoginThroughAsync(Uri staff, string forwardedFor)
    {
        using var http = new HttpClient { BaseAddress = staff };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/staff/api/login")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { email = StaffEmail, password = StaffPassword, totp = StaffCode }), Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    private static async Task<HttpResponseMessage> PostAsync(Uri baseAddress, string path, object body)
    {
        using var http = new HttpClient { BaseAddress = baseAddress };
        return await http.PostAsync(new Uri(path, UriKind.Relative), new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
    }

    private static async Task<HttpResponseMessage> GetAsync(Uri baseAddress, string path, string? token = null, string? forwardedFor = null)
    {
        using var http = new HttpClient { BaseAddress = baseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (forwardedFor is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        }
        return await http.SendAsync(request);
    }

    /// <summary>Ranges the test changes while the edge runs, as a configuration change does.</summary>
    private sealed class MutableRanges(IReadOnlyList<string> initial) : IStaffSourceRanges
    {
        private StaffRanges _current = new(new SourceNetworks(initial), "test");

        public StaffRanges Current => Volatile.Read(ref _current);

        public void Set(IReadOnlyList<string> ranges) => Volatile.Write(ref _current, new StaffRanges(new SourceNetworks(ranges), "test"));
    }

    /// <summary>One staff member with a fixed password and code; counts the logins it was asked about.</summary>
    private sealed class Directory : IStaffAuthenticator
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public TimeSpan? LockedFor { get; set; }

        public Task<StaffLoginOutcome> AuthenticateAsync(string email, string password, string totpCode, IPAddress source, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _attempts);
            StaffLoginOutcome outcome = LockedFor is { } wait ? new StaffLoginOutcome.Locked(wait)
                : email == StaffEmail && password == StaffPassword && totpCode == StaffCode
                    ? new StaffLoginOutcome.Authenticated(new StaffMember("staff-1", "Olive Ops", ["support", "operations"]))
                    : new StaffLoginOutcome.Refused();
            return Task.FromResult(outcome);
        }
    }
}
