using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bulwark.Support.Protos;
using Bulwark.Support.Telemetry;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Support.Tests.Telemetry;

public sealed class SupportMetricsTests
{
    [Fact]
    public async Task Requests_ByOutcome_NotFoundApart_AndLoginFailuresByReason()
    {
        await using var host = await SupportTestHost.StartAsync();
        var meterFactory = host.Services.GetRequiredService<IMeterFactory>();
        var measurements = new ConcurrentQueue<(string Instrument, string? Method, string? Outcome, string? Reason)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Other tests run hosts at the same time; listen only to this host's meters.
            if (instrument.Meter.Name == SupportMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            string? method = null, outcome = null, reason = null;
            foreach (var tag in tags)
            {
                method = tag.Key == "method" ? tag.Value as string : method;
                outcome = tag.Key == "outcome" ? tag.Value as string : outcome;
                reason = tag.Key == "reason" ? tag.Value as string : reason;
            }
            measurements.Enqueue((instrument.Name, method, outcome, reason));
        });
        listener.Start();
        var staff = await host.NewStaffAsync();

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => host.Staff.GetStaffAsync(new GetStaffRequest { StaffId = Guid.NewGuid().ToString() }).ResponseAsync);
        await host.LogInAsync(staff, host.WrongCode(staff.Totp.SecretBase32));
        await host.LogInAsync(staff, host.Code(staff.Totp.SecretBase32), password: "not the password at all");

        Assert.Contains((SupportMetrics.RequestsName, "CreateStaff", "OK", null), measurements);
        Assert.Contains((SupportMetrics.RequestsName, "GetStaff", "NotFound", null), measurements);
        Assert.Equal([(SupportMetrics.NotFoundName, "GetStaff", null, null)], measurements.Where(m => m.Instrument == SupportMetrics.NotFoundName));
        Assert.Equal(["totp", "password"], measurements.Where(m => m.Instrument == SupportMetrics.AuthenticationFailuresName).Select(m => m.Reason));
    }
}
