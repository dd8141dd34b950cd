using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ConfigClient = Bulwark.Config.Protos.Config.ConfigClient;

namespace Bulwark.Config.Tests;

/// <summary>
/// The configuration service in one Bulwark host on loopback, reached over real gRPC through
/// <c>bulwark:///config</c> — the path every consumer uses. On SQLite in a directory of its own,
/// or on a PostgreSQL database that several hosts may share (instances of one cluster).
/// </summary>
public sealed class ConfigTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string? _directory;

    private ConfigTestHost(WebApplication app, string? directory)
    {
        _app = app;
        _directory = directory;
        Client = new ConfigClient(app.Services.GetRequiredService<IServiceChannelFactory>().GetChannel(ConfigServiceCollectionExtensions.ServiceName));
    }

    public ConfigClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public static string NewDirectory() => Path.Combine(Path.GetTempPath(), "bulwark-config-tests", Guid.NewGuid().ToString("N"));

    /// <summary>Starts a host on SQLite (a new directory) or, with <paramref name="postgres"/>, on that database.</summary>
    public static async Task<ConfigTestHost> StartAsync(string? postgres = null, TimeSpan? writeStallTimeout = null)
    {
        var directory = postgres is null ? NewDirectory() : null;
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Warning }, new InMemoryServiceRegistry());
        builder.Services.AddConfig(new ConfigOptions
        {
            DatabasePath = directory is null ? "" : Path.Combine(directory, "config.db"),
            PostgresConnectionString = postgres,
            WatchWriteStallTimeout = writeStallTimeout ?? TimeSpan.FromMilliseconds(ConfigLimits.WatchWriteStallMillisecondsDefault),
        });
        var app = builder.Build();
        app.UsePlatform();
        app.MapConfig();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        return new ConfigTestHost(app, directory);
    }

    /// <summary>Stops the host (as SIGTERM would) without disposing it: its clients stay usable to read what the stop did.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (_directory is not null && Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>One SQLite host shared by the tests of a class; each test uses keys of its own.</summary>
public sealed class ConfigHostFixture : IAsyncLifetime
{
    private ConfigTestHost? _host;

    public ConfigTestHost Host => _host ?? throw new InvalidOperationException("The host has not started.");

    public async Task InitializeAsync() => _host = await ConfigTestHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}
