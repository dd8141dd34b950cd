using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Bulwark.Cli.Tests;

/// <summary>
/// The staff edge as staff and operators meet it in <c>bulwark run</c>: the demo staff member logs in
/// on the staff port with password and a real TOTP code (the support service checks both), and an
/// operator's <c>bulwark config set</c> of the allowed ranges turns the same staff token away, and
/// back, within seconds — the configuration service, its client and the edge's gate, end to end.
/// On the way the staff member finds the demo customer in the console's API and views them, and
/// <c>bulwark audit list</c> shows the view with its reason: the support service's audit log, end to end.
/// </summary>
public sealed partial class StaffEdgeProcessTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-staff-edge-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task DemoStaffLogsInWithTotp_ThenAnOperatorsRangeChangeRefusesAndReadmitsThem()
    {
        using var bank = BulwarkProcess.Start("run", "--data", _directory, "--port", "0", "--no-workload", "--customers", "2");
        try
        {
            var lines = new List<string>();
            await BulwarkProcess.ReadUntilAsync(bank, lines, line => line.StartsWith("Running at", StringComparison.Ordinal));
            _ = bank.StandardOutput.ReadToEndAsync(CancellationToken.None);
            _ = bank.StandardError.ReadToEndAsync(CancellationToken.None);
            var staffLine = Assert.Single(lines, line => line.StartsWith("staff edge", StringComparison.Ordinal));
            var staff = new Uri(StaffUrl().Match(staffLine).Value);
            using var demo = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_directory, "keys", "demo-staff.json")));
            var code = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(demo.RootElement.GetProperty("totpSecret").GetString()!)).ComputeTotp();
            using var http = new HttpClient { BaseAddress = staff, Timeout = TimeSpan.FromSeconds(30) };

            using var login = await http.PostAsync(new Uri("/staff/api/login", UriKind.Relative), new StringContent(JsonSerializer.Serialize(new
            {
                email = demo.RootElement.GetProperty("email").GetString(),
                password = demo.RootElement.GetProperty("password").GetString(),
                totp = code,
            }), Encoding.UTF8, "application/json"));
            var body = await login.Content.ReadAsStringAsync();
            Assert.True(login.StatusCode == HttpStatusCode.OK, body);
            using var json = JsonDocument.Parse(body);
            var token = json.RootElement.GetProperty("token").GetString()!;
            Assert.Contains("operations", json.RootElement.GetProperty("roles").EnumerateArray().Select(role => role.GetString()));
            Assert.Equal(HttpStatusCode.OK, await MeAsync(http, token));

            var staffId = json.RootElement.GetProperty("staffId").GetString()!;
            var customerId = await FindDemoCustomerAsync(http, token);
            using (var view = new HttpRequestMessage(HttpMethod.Get, new Uri($"/staff/api/customers/{customerId}?reason=process%20test%20view", UriKind.Relative)))
            {
                view.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                using var viewed = await http.SendAsync(view);
                var viewBody = await viewed.Content.ReadAsStringAsync();
                Assert.True(viewed.StatusCode == HttpStatusCode.OK, viewBody);
                using var viewJson = JsonDocument.Parse(viewBody);
                Assert.Equal(DemoEmail, viewJson.RootElement.GetProperty("customer").GetProperty("email").GetString());
                Assert.NotEmpty(viewJson.RootElement.GetProperty("accounts").EnumerateArray());
            }
            var audit = await BulwarkProcess.RunAsync("audit", "list", "--subject", customerId, "--json", "--data", _directory);
            Assert.True(audit.ExitCode == 0, audit.Output + audit.Error);
            using (var entries = JsonDocument.Parse(audit.Output))
            {
                var viewedEntry = Assert.Single(entries.RootElement.GetProperty("entries").EnumerateArray(), entry => entry.GetProperty("action").GetString() == "customer.viewed");
                Assert.Equal(staffId, viewedEntry.GetProperty("actor").GetString());
                Assert.Equal("process test view", viewedEntry.GetProperty("reason").GetString());
                Assert.Equal("127.0.0.1", viewedEntry.GetProperty("sourceAddress").GetString());
            }

            var narrowed = await BulwarkProcess.RunAsync("config", "set", "edge/staff/allowed-ranges", "10.0.0.0/8", "--reason", "staff moved to the office network", "--data", _directory);
            Assert.True(narrowed.ExitCode == 0, narrowed.Output + narrowed.Error);
            await WaitForAsync(http, token, HttpStatusCode.Forbidden);
            // The operator's own commands go through the staff edge too, and are now shut out with the console:
            var shut = await BulwarkProcess.RunAsync("config", "get", "edge/staff/allowed-ranges", "--data", _directory);
            Assert.Equal(2, shut.ExitCode);
            Assert.Contains("127.0.0.1 is not in them", shut.Error, StringComparison.Ordinal);
            // the break-glass write from the bank's own machine lets them back in (docs/runbooks/staff-access.md).
            var widened = await BulwarkProcess.RunAsync("config", "set", "edge/staff/allowed-ranges", "10.0.0.0/8, 127.0.0.1", "--break-glass", "--reason", "loopback for the operator's own tools", "--data", _directory);
            Assert.True(widened.ExitCode == 0, widened.Output + widened.Error);
            await WaitForAsync(http, token, HttpStatusCode.OK);
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

    private const string DemoEmail = "demo@bulwark.example";

    private static async Task<string> FindDemoCustomerAsync(HttpClient http, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/staff/api/customers?reason=process%20test%20search&email={Uri.EscapeDataString(DemoEmail)}", UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var json = JsonDocument.Parse(body);
        return Assert.Single(json.RootElement.GetProperty("customers").EnumerateArray()).GetProperty("customerId").GetString()!;
    }

    private static async Task<HttpStatusCode> MeAsync(HttpClient http, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/staff/api/me", UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task WaitForAsync(HttpClient http, string token, HttpStatusCode expected)
    {
        var waited = Stopwatch.StartNew();
        HttpStatusCode last;
        while ((last = await MeAsync(http, token)) != expected)
        {
            Assert.True(waited.Elapsed < Bound, $"the staff edge still answered {last}, not {expected}, {Bound.TotalSeconds:0} s after the change");
            await Task.Delay(100);
        }
    }

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+/staff/")]
    private static partial Regex StaffUrl();
}
