using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Bulwark.Cli.Tests;

/// <summary>
/// Operator commands against a real <c>bulwark run</c>, through the staff edge's operator gateway:
/// no staff session, no reason, a token the edge did not sign, a support member's configuration
/// write — each one clear line and exit code 2, nothing done; a logged-in operations member's
/// <c>config set</c> is done and the audit log has who, which call and why.
/// </summary>
public sealed partial class OperatorGatewayProcessTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-operator-gateway-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task OperatorCommands_NeedAStaffSessionAReasonAndTheRole_AndAreAudited()
    {
        var data = Path.Combine(_directory, "data");
        using var bank = BulwarkProcess.Start("run", "--data", data, "--port", "0", "--no-workload", "--customers", "1");
        try
        {
            var lines = new List<string>();
            await BulwarkProcess.ReadUntilAsync(bank, lines, line => line.StartsWith("Running at", StringComparison.Ordinal));
            _ = bank.StandardOutput.ReadToEndAsync(CancellationToken.None);
            _ = bank.StandardError.ReadToEndAsync(CancellationToken.None);
            Assert.Single(lines, line => line.StartsWith("operator gateway", StringComparison.Ordinal) && line.Contains("(HTTP/2)", StringComparison.Ordinal));
            var opsSession = Path.Combine(_directory, "ops-session.json");
            var supportSession = Path.Combine(_directory, "support-session.json");
            var noSession = new Dictionary<string, string> { ["BULWARK_STAFF_SESSION"] = Path.Combine(_directory, "none.json") };

            var anonymous = await BulwarkProcess.RunAsync(noSession, "customers", "list", "--reason", "looking", "--data", data);
            AssertRefused(anonymous, "not logged in as staff", "bulwark staff login --email EMAIL --data " + data);

            using (var demo = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(data, "keys", "demo-staff.json"))))
            {
                var login = await LoginAsync(opsSession, data, demo.RootElement.GetProperty("email").GetString()!, demo.RootElement.GetProperty("password").GetString()!,
                    demo.RootElement.GetProperty("totpSecret").GetString()!);
                Assert.Contains("(admin, operations, support)", login, StringComparison.Ordinal);
            }
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(opsSession));
            var ops = new Dictionary<string, string> { ["BULWARK_STAFF_SESSION"] = opsSession };

            var noReason = await BulwarkProcess.RunAsync(ops, "customers", "list", "--data", data);
            AssertRefused(noReason, "--reason is required", "BULWARK_REASON");

            var set = await BulwarkProcess.RunAsync(ops, "config", "set", "app/banner", "maintenance tonight", "--reason", "planned maintenance INC-42", "--data", data);
            Assert.True(set.ExitCode == 0, set.Output + set.Error);
            var audit = await BulwarkProcess.RunAsync(ops, "audit", "list", "--action", "operator.call", "--json", "--reason", "checking the audit", "--data", data);
            Assert.True(audit.ExitCode == 0, audit.Output + audit.Error);
            using (var entries = JsonDocument.Parse(audit.Output))
            {
                var put = Assert.Single(entries.RootElement.GetProperty("entries").EnumerateArray(), entry => entry.GetProperty("subject").GetString() == "/bulwark.config.v1.Config/Put");
                Assert.Equal("planned maintenance INC-42", put.GetProperty("reason").GetString());
                Assert.Equal("127.0.0.1", put.GetProperty("sourceAddress").GetString());
            }

            // An admin adds a support-only member, who logs in and may read customers but not change configuration.
            var added = await BulwarkProcess.RunWithInputAsync(ops, BulwarkProcess.Bound, "a long support password\n",
                ["staff", "add", "--email", "sam@bank.example", "--name", "Sam Support", "--role", "support", "--reason", "new support hire", "--data", data]);
            Assert.True(added.ExitCode == 0, added.Output + added.Error);
            var secret = SecretLine().Match(added.Output).Groups[1].Value;
            await LoginAsync(supportSession, data, "sam@bank.example", "a long support password", secret);
            var support = new Dictionary<string, string> { ["BULWARK_STAFF_SESSION"] = supportSession, ["BULWARK_REASON"] = "customer called" };
            var read = await BulwarkProcess.RunAsync(support, "customers", "list", "--data", data);
            Assert.True(read.ExitCode == 0, read.Output + read.Error);
            var shown = await BulwarkProcess.RunAsync(support, "customers", "show", "demo@bulwark.example", "--data", data);
            Assert.True(shown.ExitCode == 0, shown.Output + shown.Error);
            var write = await BulwarkProcess.RunAsync(support, "config", "set", "app/banner", "", "--reason", "clearing it", "--expected-version", "1", "--data", data);
            AssertRefused(write, "needs the role operations", "has support");

            // A token this bank's staff edge did not sign (or a customer's) is no staff session.
            var forged = Path.Combine(_directory, "forged-session.json");
            await File.WriteAllTextAsync(forged, JsonSerializer.Serialize(new
            {
                token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
                expiresAt = DateTimeOffset.UtcNow.AddHours(1),
                staffEdge = "http://127.0.0.1:1/",
                staffId = "x",
                email = "x@bank.example",
                roles = new[] { "operations" },
            }));
            var forgedCall = await BulwarkProcess.RunAsync(new Dictionary<string, string> { ["BULWARK_STAFF_SESSION"] = forged }, "customers", "list", "--reason", "trying", "--data", data);
            AssertRefused(forgedCall, "A valid staff token is required", "bulwark staff login");

            var logout = await BulwarkProcess.RunAsync(ops, "staff", "logout");
            Assert.True(logout.ExitCode == 0, logout.Output + logout.Error);
            Assert.False(File.Exists(opsSession));
        }
        finally
        {
            if (!bank.HasExited)
            {
                using (var interrupt = Process.Start("kill", ["-INT", bank.Id.ToString(CultureInfo.InvariantCulture)]))
                {
                    await interrupt.WaitForExitAsync();
                }
                using var bound = new CancellationTokenSource(BulwarkProcess.Bound);
                await bank.WaitForExitAsync(bound.Token);
            }
        }
    }

    /// <summary>Exit code 2 and one line on standard error holding each of <paramref name="expected"/>.</summary>
    private static void AssertRefused((int ExitCode, string Output, string Error) result, params string[] expected)
    {
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Output}{result.Error}");
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        foreach (var text in expected)
        {
            Assert.Contains(text, line, StringComparison.Ordinal);
        }
    }

    /// <summary><c>bulwark staff login</c> with the password and a code from <paramref name="secret"/> on standard input; the next 30 s step if this one's code was used.</summary>
    private static async Task<string> LoginAsync(string session, string data, string email, string password, string secret)
    {
        var totp = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret));
        var login = await BulwarkProcess.RunWithInputAsync(new Dictionary<string, string> { ["BULWARK_STAFF_SESSION"] = session }, BulwarkProcess.Bound,
            $"{password}\n{totp.ComputeTotp()}\n", ["staff", "login", "--email", email, "--data", data]);
        Assert.True(login.ExitCode == 0, login.Output + login.Error);
        return login.Output;
    }

    [GeneratedRegex(@"(?m)^  secret: ([A-Z2-7]{32})$")]
    private static partial Regex SecretLine();
}
