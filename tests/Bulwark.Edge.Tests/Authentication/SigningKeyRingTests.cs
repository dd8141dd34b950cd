using System.Net;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Edge.Tests.Fakes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bulwark.Edge.Tests.Authentication;

/// <summary>The signing key ring, through the API of two edges sharing one key directory (as in the cluster).</summary>
public sealed class SigningKeyRingTests
{
    private const string NewKeyId = "20991231T235959Z";

    private static void AddKey(string firstKeyPath, string keyId)
    {
        // As the runbook says: written aside, owner-only (umask 077), then moved into place in one step.
        var path = Path.Combine(Path.GetDirectoryName(firstKeyPath)!, $"edge-signing.{keyId}.key");
        File.WriteAllBytes(path + ".tmp", RandomNumberGenerator.GetBytes(64));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path + ".tmp", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(path + ".tmp", path);
    }

    private static async Task<HttpStatusCode> MeAsync(EdgeHost host, string token)
    {
        using var response = await host.SendAsync(HttpMethod.Get, "/api/me", token: token);
        return response.StatusCode;
    }

    [Fact]
    public async Task Login_Token_NamesItsSigningKeyInKid()
    {
        await using var host = await EdgeHost.StartAsync();

        var token = new JsonWebToken(await host.LoginAsync());

        Assert.Equal("edge-signing", token.Kid);
    }

    [Fact]
    public async Task Rotate_AddKeyThenRetireOld_NobodyLoggedOutOnEitherEdge()
    {
        var bank = new FakeBank();
        await using var first = await EdgeHost.StartAsync(bank: bank);
        await using var second = await EdgeHost.StartAsync(bank: bank, signingKeyPath: first.SigningKeyPath);
        var oldToken = await first.LoginAsync();

        // Added: the first edge signs with the new key at its next read of the directory; the second,
        // which has not read it yet, reads it when a token names it.
        AddKey(first.SigningKeyPath, NewKeyId);
        first.Time.Advance(TimeSpan.FromSeconds(31));
        second.Time.Advance(TimeSpan.FromSeconds(2));
        var newToken = await first.LoginAsync();

        Assert.Equal(NewKeyId, new JsonWebToken(newToken).Kid);
        Assert.Equal(HttpStatusCode.OK, await MeAsync(second, newToken));
        Assert.Equal(HttpStatusCode.OK, await MeAsync(second, oldToken));
        Assert.Equal(HttpStatusCode.OK, await MeAsync(first, oldToken));
        Assert.Equal(NewKeyId, new JsonWebToken(await second.LoginAsync()).Kid);

        // Retired: once the old tokens have expired nobody needs the old key; its tokens stop working.
        File.Delete(first.SigningKeyPath);
        first.Time.Advance(TimeSpan.FromSeconds(31));
        second.Time.Advance(TimeSpan.FromSeconds(31));

        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(first, oldToken));
        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(second, oldToken));
        Assert.Equal(HttpStatusCode.OK, await MeAsync(first, newToken));
        Assert.Equal(HttpStatusCode.OK, await MeAsync(second, newToken));
        Assert.False(File.Exists(first.SigningKeyPath));
    }

    [Fact]
    public async Task Reload_BadKeyFileAdded_KeepsTheKeysReadBefore()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        var badPath = Path.Combine(Path.GetDirectoryName(host.SigningKeyPath)!, $"edge-signing.{NewKeyId}.key");
        await File.WriteAllBytesAsync(badPath, new byte[5]);

        host.Time.Advance(TimeSpan.FromSeconds(31));
        var next = await host.LoginAsync();

        Assert.Equal(HttpStatusCode.OK, await MeAsync(host, token));
        Assert.Equal("edge-signing", new JsonWebToken(next).Kid);
        Assert.Equal(HttpStatusCode.OK, await MeAsync(host, next));
    }

    [Fact]
    public async Task Token_SignedBeforeKeyIds_WithoutKid_StillAccepted()
    {
        await using var host = await EdgeHost.StartAsync();
        var key = await File.ReadAllBytesAsync(host.SigningKeyPath);
        var now = host.Time.GetUtcNow().ToUnixTimeSeconds();
        // Written by hand: the handler would add a kid of its own.
        var header = Base64UrlEncoder.Encode("""{"alg":"HS256","typ":"JWT"}""");
        var payload = Base64UrlEncoder.Encode(
            $$"""{"iss":"bulwark-edge","aud":"bulwark-app","sub":"{{FakeBank.DemoCustomerId}}","jti":"{{Guid.NewGuid():N}}","iat":{{now}},"nbf":{{now}},"exp":{{now + 3600}}}""");
        var signature = Base64UrlEncoder.Encode(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes($"{header}.{payload}")));
        var token = $"{header}.{payload}.{signature}";

        Assert.False(new JsonWebToken(token).TryGetHeaderValue<string>("kid", out _));
        Assert.Equal(HttpStatusCode.OK, await MeAsync(host, token));
    }

    [Fact]
    public async Task Token_NamingAKeyNobodyHas_Returns401()
    {
        await using var host = await EdgeHost.StartAsync();
        var key = new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(64)) { KeyId = "forged" };
        var now = host.Time.GetUtcNow().UtcDateTime;
        var token = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "bulwark-edge",
            Audience = "bulwark-app",
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddHours(1),
            Claims = new Dictionary<string, object> { ["sub"] = FakeBank.DemoCustomerId, ["jti"] = Guid.NewGuid().ToString("N") },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        });

        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(host, token));
    }
}
