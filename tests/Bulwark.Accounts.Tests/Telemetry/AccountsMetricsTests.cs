using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Telemetry;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Accounts.Tests.Telemetry;

public sealed class AccountsMetricsTests
{
    [Fact]
    public async Task Requests_NotFoundAndOk_CountedByOutcomeAndNotFoundSeparately()
    {
        await using var host = await AccountsTestHost.StartAsync();
        var meterFactory = host.Services.GetRequiredService<IMeterFactory>();
        var measurements = new ConcurrentQueue<(string Instrument, string? Method, string? Outcome)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Other tests run hosts at the same time; listen only to this host's meters.
            if (instrument.Meter.Name == AccountsMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            string? method = null, outcome = null;
            foreach (var tag in tags)
            {
                method = tag.Key == "method" ? tag.Value as string : method;
                outcome = tag.Key == "outcome" ? tag.Value as string : outcome;
            }
            measurements.Enqueue((instrument.Name, method, outcome));
        });
        listener.Start();
        var customer = await host.NewCustomerAsync();

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => host.Accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = Guid.NewGuid().ToString() }).ResponseAsync);
        await host.Accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = customer.Customer.CustomerId });
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => host.Accounts.GetCustomerAsync(new GetCustomerRequest()).ResponseAsync);

        Assert.Contains((AccountsMetrics.RequestsName, "CreateCustomer", "OK"), measurements);
        Assert.Contains((AccountsMetrics.RequestsName, "GetCustomer", "NotFound"), measurements);
        Assert.Contains((AccountsMetrics.RequestsName, "GetCustomer", "OK"), measurements);
        Assert.Contains((AccountsMetrics.RequestsName, "GetCustomer", "InvalidArgument"), measurements);
        Assert.Equal([(AccountsMetrics.NotFoundName, "GetCustomer", null)], measurements.Where(m => m.Instrument == AccountsMetrics.NotFoundName));
    }
}
