using System.Net;
using System.Text.Json;
using Bulwark.Edge.Tests.Fakes;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Bulwark.Edge.Tests.Api;

public sealed class LoginTests
{
    [Fact]
    public async Task Login_DemoCredentials_ReturnsTokenWithCustomerInSub()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login", """{"email":"demo@bulwark.example","password":"bulwark-demo"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(FakeBank.DemoCustomerId, body.GetProperty("customerId").GetString());
        var token = new JsonWebToken(body.GetProperty("token").GetString());
        Assert.Equal("HS256", token.Alg);
        Assert.Equal(FakeBank.DemoCustomerId, token.Subject);
        var expiresAt = body.GetProperty("expiresAt").GetDateTimeOffset();
        Assert.Equal(host.Time.GetUtcNow().AddHours(1).ToUnixTimeSeconds(), expiresAt.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task Login_WrongPassword_Returns401InvalidCredentials()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login", """{"email":"demo@bulwark.example","password":"wrong-password"}""");

        await Problems.AssertAsync(response, HttpStatusCode.Unauthorized, "invalid-credentials");
    }

    [Fact]
    public async Task Login_MalformedJson_Returns400MalformedJson()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login", """{"email":"demo@bulwark.example","password":""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "malformed-json");
        Assert.Equal(0, host.Bank.CallCount(FakeAccounts.Service));
    }

    [Fact]
    public async Task Login_EmptyBody_Returns400MalformedJson()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login", "");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "malformed-json");
    }

    [Fact]
    public async Task Login_JsonArrayBody_Returns400MalformedJson()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login", """["demo@bulwark.example"]""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "malformed-json");
    }

    [Fact]
    public async Task Login_MissingFields_Returns400NamingEachField()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login", "{}");

        var problem = await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "email");
        Assert.True(problem.GetProperty("errors").TryGetProperty("password", out _));
    }

    [Fact]
    public async Task Login_EmailNotAString_Returns400NamingEmail()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login", """{"email":42,"password":"bulwark-demo"}""");

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest, "validation", "email");
    }

    [Fact]
    public async Task Login_TextPlainBody_Returns415()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login", "email=demo", contentType: "text/plain");

        await Problems.AssertAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task Login_BodyLargerThanLimit_Returns413()
    {
        await using var host = await EdgeHost.StartAsync();
        var password = new string('x', EdgeLimits.RequestBodyBytesMax);

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login", $$"""{"email":"demo@bulwark.example","password":"{{password}}"}""");

        await Problems.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
    }

    [Fact]
    public async Task Login_AccountsServiceUnavailable_Returns503NotAnAuthenticationFailure()
    {
        await using var host = await EdgeHost.StartAsync();
        host.Bank.Fail(FakeAccounts.Service, Grpc.Core.StatusCode.Unavailable);

        using var response = await host.SendAsync(HttpMethod.Post, "/api/login", """{"email":"demo@bulwark.example","password":"bulwark-demo"}""");

        await Problems.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "service-unavailable");
    }
}
