using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Bulwark.Platform.Tests.Telemetry;

/// <summary>The OpenTelemetry service name a process reports (it was "unknown_service").</summary>
public sealed class ServiceResourceTests
{
    private static async Task<Dictionary<string, object>> ResourceAsync(string? serviceName, params string[] hosted)
    {
        var builder = BulwarkHost.CreateBuilder(
            new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Warning, ServiceName = serviceName, Version = "1.2.3" },
            new InMemoryServiceRegistry());
        foreach (var service in hosted)
        {
            builder.Services.AddHostedBulwarkService(service);
        }
        await using var app = builder.Build();
        var resource = app.Services.GetRequiredService<MeterProvider>().GetResource();
        return resource.Attributes.ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
    }

    [Fact]
    public async Task ServiceName_OneHostedService_IsItsName()
    {
        var resource = await ResourceAsync(null, "ledger");

        Assert.Equal("ledger", resource["service.name"]);
        Assert.Equal("1.2.3", resource["service.version"]);
        Assert.Equal("ledger", resource["bulwark.services"]);
    }

    [Fact]
    public async Task ServiceName_SeveralHostedServices_IsBulwarkAndListsThem()
    {
        var resource = await ResourceAsync(null, "ledger", "accounts", "feed");

        Assert.Equal("bulwark", resource["service.name"]);
        Assert.Equal("ledger,accounts,feed", resource["bulwark.services"]);
    }

    [Fact]
    public async Task ServiceName_SetByTheHost_WinsOverHostedServices()
    {
        var resource = await ResourceAsync("edge");

        Assert.Equal("edge", resource["service.name"]);
        Assert.False(resource.ContainsKey("bulwark.services"));
    }

    [Fact]
    public async Task ServiceName_NothingHosted_IsBulwarkNeverUnknown()
    {
        var resource = await ResourceAsync(null);

        Assert.Equal("bulwark", resource["service.name"]);
    }
}
