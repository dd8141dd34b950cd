using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Bulwark.Edge.BankStatus;
using Bulwark.Edge.Staff.Ops;
using Bulwark.Platform.Registry;

namespace Bulwark.Edge.Tests.Staff.Ops;

/// <summary>The ops view's API: the overview within its budget whatever an instance does, the operations role, and the banner from the ops view to the customer edge.</summary>
public sealed class OpsApiTests
{
    [Fact]
    public async Task Overview_AnInstanceThatAcceptsAndNeverAnswers_ReturnsWithinItsBudgetMarkingItUnreachable()
    {
        await using var host = await OpsHost.StartAsync();
        using var hung = new TcpListener(IPAddress.Loopback, 0);
        hung.Start();
        var held = new System.Collections.Concurrent.ConcurrentBag<Socket>();
        var accepting = Task.Run(async () =>
        {
            // Accepts every connection and never reads or writes a byte: the instance that hangs.
            while (true)
            {
                held.Add(await hung.AcceptSocketAsync());
            }
        });
        var address = $"127.0.0.1:{((IPEndPoint)hung.LocalEndpoint).Port}";
        await using var registration = await host.Registry.RegisterAsync(new ServiceInstance("accounts", "accounts-hung", address, "v-hung"), CancellationToken.None);
        var token = await host.LoginAsync(OpsStaff.Operations);

        var watch = Stopwatch.StartNew();
        using var response = await host.StaffAsync(HttpMethod.Get, "/staff/api/ops/overview", token);
        watch.Stop();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The probe's deadline is 1 s; the rest is slack for two loaded cores, far below a hang.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(6), $"the overview took {watch.Elapsed.TotalSeconds:0.0} s");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var instances = json.RootElement.GetProperty("services").EnumerateArray().SelectMany(service => service.GetProperty("instances").EnumerateArray()).ToList();
        var hanging = instances.Single(instance => instance.GetProperty("instanceId").GetString() == "accounts-hung");
        Assert.Equal(InstanceProbeResult.Unreachable, hanging.GetProperty("health").GetString());
        Assert.Equal("v-hung", hanging.GetProperty("version").GetString());
        Assert.StartsWith("unknown", hanging.GetProperty("discoveryFreshness").GetString(), StringComparison.Ordinal);
        // The configuration service, probed in the same round, is not held up by it.
        var config = instances.Single(instance => instance.GetProperty("service").GetString() == "config");
        Assert.Equal(InstanceProbeResult.Serving, config.GetProperty("health").GetString());
        Assert.Contains(json.RootElement.GetProperty("alerts").EnumerateArray(),
            alert => alert.GetProperty("name").GetString() == "BulwarkInstanceDown" && alert.GetProperty("summary").GetString()!.Contains("accounts-hung", StringComparison.Ordinal));
        // Nothing this host cannot know is made up: no placement map here, no card processor.
        Assert.Equal("unknown", json.RootElement.GetProperty("placement").GetProperty("status").GetString());
        Assert.StartsWith("unknown", json.RootElement.GetProperty("cards").GetProperty("status").GetString(), StringComparison.Ordinal);
        hung.Stop();
        foreach (var socket in held)
        {
            socket.Dispose();
        }
        _ = accepting.Exception;
    }

    [Fact]
    public async Task OpsApi_SupportRole_IsRefused_OperationsRole_IsAllowed()
    {
        await using var host = await OpsHost.StartAsync();
        var support = await host.LoginAsync(OpsStaff.Support);
        var operations = await host.LoginAsync(OpsStaff.Operations);

        foreach (var (method, path) in new[] { (HttpMethod.Get, "/staff/api/ops/overview"), (HttpMethod.Get, "/staff/api/ops/series"), (HttpMethod.Delete, "/staff/api/ops/banner") })
        {
            using var refused = await host.StaffAsync(method, path, support);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        using (var put = await host.StaffAsync(HttpMethod.Put, "/staff/api/ops/banner", support, new { level = "warning", message = "x" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        }
        Assert.Empty(host.Audit.Entries);
        Assert.Null(await host.BannerMessageAsync());

        using var overview = await host.StaffAsync(HttpMethod.Get, "/staff/api/ops/overview", operations);
        Assert.Equal(HttpStatusCode.OK, overview.StatusCode);
        using var series = await host.StaffAsync(HttpMethod.Get, "/staff/api/ops/series", operations);
        Assert.Equal(HttpStatusCode.OK, series.StatusCode);
    }

    [Fact]
    public async Task Banner_SetAndClearedInTheOpsView_AppearsAndGoesAtTheStatusEndpoint_AuditedWithTheActor()
    {
        await using var host = await OpsHost.StartAsync();
        var token = await host.LoginAsync(OpsStaff.Operations);
        Assert.Null(await host.BannerMessageAsync());

        using (var set = await host.StaffAsync(HttpMethod.Put, "/staff/api/ops/banner", token,
            new { level = "warning", message = "Card payments may be slow to show.", reason = "incident 42" }))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }
        await OpsHost.WaitUntilAsync(async () => await host.BannerMessageAsync() == "Card payments may be slow to show.", "the banner at /api/v1/status");
        using (var status = await host.Http.GetAsync(new Uri(host.PublicAddress, "/api/v1/status")))
        {
            Assert.Contains("max-age", status.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
        }
        var entry = (await host.ConfigClient().GetAsync(new Config.Protos.GetRequest { Key = StatusBanner.Key })).Entry;
        Assert.Contains("Olive Ops <staff-ops>", entry.ChangedBy, StringComparison.Ordinal);
        Assert.Equal("incident 42", entry.Reason);
        var audited = Assert.Single(host.Audit.Entries);
        Assert.Equal(("staff-ops", "banner.set", StatusBanner.Key, "incident 42"), (audited.StaffId, audited.Action, audited.Subject, audited.Reason));

        // A bad level is refused before anything is written or audited.
        using (var bad = await host.StaffAsync(HttpMethod.Put, "/staff/api/ops/banner", token, new { level = "shouting", message = "x" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }
        Assert.Single(host.Audit.Entries);

        using (var cleared = await host.StaffAsync(HttpMethod.Delete, "/staff/api/ops/banner?reason=resolved", token))
        {
            Assert.Equal(HttpStatusCode.NoContent, cleared.StatusCode);
        }
        await OpsHost.WaitUntilAsync(async () => await host.BannerMessageAsync() is null, "the banner to go");
        Assert.Equal(["banner.set", "banner.cleared"], host.Audit.Entries.Select(e => e.Action));
        Assert.Equal("resolved", host.Audit.Entries.Last().Reason);
    }

    [Fact]
    public async Task Banner_ChangedByAnotherBetweenTheAuditAndTheChange_409_AndTheLogSaysItFailed()
    {
        await using var host = await OpsHost.StartAsync();
        var token = await host.LoginAsync(OpsStaff.Operations);
        // Someone else sets the banner after this request was audited and before it is written.
        host.Audit.AfterNextAppend = async () => await host.ConfigClient().PutAsync(new Config.Protos.PutRequest
        {
            Key = StatusBanner.Key,
            Value = new StatusBanner("warning", "Set by the monitor.", StatusBanner.Automatic, DateTimeOffset.UtcNow).ToJson(),
            Reason = "test: a change in between",
        });

        using var set = await host.StaffAsync(HttpMethod.Put, "/staff/api/ops/banner", token, new { level = "warning", message = "Mine.", reason = "incident 43" });

        Assert.Equal(HttpStatusCode.Conflict, set.StatusCode);
        Assert.Equal(["banner.set", "banner.set_failed"], host.Audit.Entries.Select(e => e.Action));
        var failed = host.Audit.Entries.Last();
        Assert.Equal(("1", "conflict", "incident 43"), (failed.Details!["auditSequence"], failed.Details["status"], failed.Reason));
    }
}
