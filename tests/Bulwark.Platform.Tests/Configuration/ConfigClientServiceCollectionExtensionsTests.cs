using System.Net;
using Bulwark.Platform.Configuration;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Tests.Configuration;

/// <summary>The client as a host gets it: registered with AddBulwarkConfig, started with the host, exported at /metrics.</summary>
public sealed class ConfigClientServiceCollectionExtensionsTests : IDisposable
{
    private const string Ranges = "edge/staff-ranges";

    private readonly string _directory = Directory.CreateTempSubdirectory("bulwark-config-host-").FullName;

    [Fact]
    public async Task AddBulwarkConfig_InAHostThatAlsoServesConfig_StartsWithinItsBound_CatchesUp_AndExportsWhatTheAlertsRead()
    {
        var cachePath = Path.Combine(_directory, "config-cache.bin");
        ConfigCacheFile.Save(cachePath, new ConfigCacheContent([new ConfigEntry(Ranges, "10.0.0.0/8", 1, false)],
            new Dictionary<string, long> { ["edge/"] = 1 }, DateTimeOffset.UtcNow));
        var service = new FakeConfigService(TimeProvider.System);
        service.Put(Ranges, "10.0.0.0/8");
        service.Put("edge/banner", "hello");
        service.Lost[Ranges] = true;
        service.CompactedRevision = service.Revision + 1;
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
        {
            PublicEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            ConsoleLogLevel = LogLevel.Warning,
        }, new InMemoryServiceRegistry());
        // The process serves config itself, as `bulwark run` does: its client starts before the
        // service is registered (hosted services start before the server listens), so it goes on
        // from the cache file after its start-up bound and catches up when the service appears.
        builder.Services.AddHostedBulwarkService(ConfigClientOptions.ServiceDefault);
        builder.Services.AddSingleton(service);
        builder.Services.AddBulwarkConfig(new ConfigClientOptions { Prefixes = ["edge/"], CachePath = cachePath, ProgressIntervalMilliseconds = 1000 });
        await using var app = builder.Build();
        app.UsePlatform();
        app.MapGrpcService<FakeConfigService>();
        await app.StartAsync();
        var config = app.Services.GetRequiredService<ConfigValues>();

        await ConfigClientFixture.WaitUntilAsync(() => config.IsFresh && config.UntrustedNotFoundCount >= 1, "the client to catch up");

        Assert.True(config.StartedFromCache);
        Assert.Equal(new ConfigValue("hello", 2), config.Get("edge/banner"));
        var ranges = Assert.IsType<ConfigUnknown>(config.Get(Ranges));
        Assert.Equal(ConfigUnknownReason.UntrustedNotFound, ranges.Reason);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 1), ranges.LastGood);
        var metrics = await ScrapeAsync(app);
        Assert.Contains("bulwark_config_client_untrusted_not_found_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("bulwark_config_client_untrusted_keys{", metrics, StringComparison.Ordinal);
        Assert.Contains("key=\"edge/staff-ranges\"", metrics, StringComparison.Ordinal);
        Assert.Contains("bulwark_config_client_stale_seconds{", metrics, StringComparison.Ordinal);
        Assert.Contains("bulwark_config_client_fresh{", metrics, StringComparison.Ordinal);
        Assert.Contains("bulwark_config_client_revision_refused{", metrics, StringComparison.Ordinal);
        Assert.Contains("bulwark_config_client_started_from_cache", metrics, StringComparison.Ordinal);

        service.Shutdown();
        using var stop = new CancellationTokenSource(ConfigClientFixture.WaitMax);
        await app.StopAsync(stop.Token);
    }

    private static async Task<string> ScrapeAsync(WebApplication app)
    {
        var internalPort = app.Services.GetRequiredService<InternalEndpointAccessor>().Get().Port;
        var publicAddress = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.Single(address => !address.EndsWith($":{internalPort}", StringComparison.Ordinal));
        using var http = new HttpClient { BaseAddress = new Uri(publicAddress), Timeout = ConfigClientFixture.WaitMax };
        return await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
