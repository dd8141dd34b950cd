using System.Net;
using System.Security.Claims;
using Bulwark.Edge.Tests.Fakes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bulwark.Edge.Tests.Api;

public sealed class AuthenticationTests
{
    [Fact]
    public async Task Accounts_NoToken_Returns401ProblemWithChallenge()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts");

        await Problems.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        Assert.Equal(0, host.Bank.CallCount(FakeAccounts.Service));
    }

    [Fact]
    public async Task Accounts_GarbageToken_Returns401()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: "not-a-jwt");

        await Problems.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Accounts_ExpiredToken_Returns401()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        host.Time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1));
        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: token);

        var problem = await Problems.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Contains("expired", problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Accounts_TokenJustBeforeExpiry_IsAccepted()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();

        host.Time.Advance(TimeSpan.FromMinutes(59));
        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Accounts_TokenSignedWithAnotherKey_Returns401()
    {
        await using var host = await EdgeHost.StartAsync();
        var forged = Forge(host, new byte[64], FakeBank.OtherCustomerId);

        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: forged);

        await Problems.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Accounts_TokenWithWrongAudience_Returns401()
    {
        await using var host = await EdgeHost.StartAsync();
        var key = await File.ReadAllBytesAsync(host.SigningKeyPath);
        var forged = Forge(host, key, FakeBank.DemoCustomerId, audience: "someone-else");

        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: forged);

        await Problems.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Accounts_UnsignedToken_Returns401()
    {
        await using var host = await EdgeHost.StartAsync();
        var now = host.Time.GetUtcNow();
        var unsigned = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "bulwark-edge",
            Audience = "bulwark-app",
            Subject = new ClaimsIdentity([new Claim("sub", FakeBank.OtherCustomerId)]),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = now.AddMinutes(10).UtcDateTime,
        });

        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: unsigned);

        await Problems.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task SigningKey_CreatedOnStart_IsPrivateAndLongEnough()
    {
        await using var host = await EdgeHost.StartAsync();

        var key = await File.ReadAllBytesAsync(host.SigningKeyPath);

        Assert.True(key.Length >= EdgeLimits.SigningKeyBytesMin);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(host.SigningKeyPath));
        }
    }

    [Fact]
    public void AddEdge_SigningKeyFileTooShort_FailsAtStartNamingTheFile()
    {
        var directory = Directory.CreateTempSubdirectory("bulwark-edge-key-").FullName;
        try
        {
            var path = Path.Combine(directory, "short.key");
            File.WriteAllBytes(path, new byte[16]);
            var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();

            var error = Assert.Throws<InvalidOperationException>(() => services.AddEdge(new EdgeOptions { SigningKeyPath = path }));

            Assert.Contains(path, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void AddEdge_TokenLifetimeZero_IsRefused()
    {
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();

        Assert.Throws<ArgumentOutOfRangeException>(() =>
            services.AddEdge(new EdgeOptions { SigningKeyPath = "unused.key", TokenLifetime = TimeSpan.Zero }));
    }

    private static string Forge(EdgeHost host, byte[] key, string customerId, string audience = "bulwark-app")
    {
        var now = host.Time.GetUtcNow();
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "bulwark-edge",
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", customerId)]),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = now.AddMinutes(10).UtcDateTime,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(key), SecurityAlgorithms.HmacSha256),
        });
    }
}
