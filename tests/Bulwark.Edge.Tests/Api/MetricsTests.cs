using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Bulwark.Edge.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Tests.Api;

public sealed class MetricsTests
{
    /// <summary>Listens to one host's Bulwark.Edge meter (its meter factory is the meter's scope).</summary>
    private sealed class EdgeMeterListener : IDisposable
    {
        private readonly MeterListener _listener = new();

        public EdgeMeterListener(EdgeHost host)
        {
            var factory = host.App.Services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == EdgeMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                var route = "";
                var statusClass = "";
                foreach (var tag in tags)
                {
                    if (tag.Key == "http.route")
                    {
                        route = tag.Value as string ?? "";
                    }
                    if (tag.Key == "status_class")
                    {
                        statusClass = tag.Value as string ?? "";
                    }
                }
                Measurements.Enqueue((instrument.Name, route, statusClass, value));
            });
            _listener.Start();
        }

        public ConcurrentQueue<(string Instrument, string Route, string StatusClass, long Value)> Measurements { get; } = new();

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task NotFound_IsCountedOnItsOwnCounterAndAsA4xxRequest()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        using var listener = new EdgeMeterListener(host);

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{Guid.NewGuid()}/balance", token: token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains(listener.Measurements, m =>
            m.Instrument == EdgeMetrics.NotFoundCounterName && m.Route == "/api/accounts/{accountId}/balance");
        Assert.Contains(listener.Measurements, m =>
            m.Instrument == EdgeMetrics.RequestsCounterName && m.Route == "/api/accounts/{accountId}/balance" && m.StatusClass == "4xx");
    }

    [Fact]
    public async Task Request_Succeeding_IsCountedByRouteAs2xxAndNotAsNotFound()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        using var listener = new EdgeMeterListener(host);

        using var response = await host.SendAsync(HttpMethod.Get, "/api/accounts", token: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(listener.Measurements, m =>
            m.Instrument == EdgeMetrics.RequestsCounterName && m.Route == "/api/accounts" && m.StatusClass == "2xx");
        Assert.DoesNotContain(listener.Measurements, m => m.Instrument == EdgeMetrics.NotFoundCounterName);
    }

    [Fact]
    public async Task Request_WithoutToken_IsCountedAs4xx()
    {
        await using var host = await EdgeHost.StartAsync();
        using var listener = new EdgeMeterListener(host);

        using var response = await host.SendAsync(HttpMethod.Get, "/api/cards");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(listener.Measurements, m =>
            m.Instrument == EdgeMetrics.RequestsCounterName && m.Route == "/api/cards" && m.StatusClass == "4xx");
    }
}
