using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bulwark.Platform.Configuration;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Registry;
using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Bulwark.Platform.Tests.Configuration;

/// <summary>
/// What a process gives its configuration client, for tests: an in-memory registry, the platform's
/// resolver and channel factory (so the client reaches the fake service through <c>bulwark:///config</c>
/// as in production), a fake clock, a temporary data directory for the cache file, and recorders of
/// the client's logs and metrics. Time moves only when a test advances it.
/// </summary>
public sealed class ConfigClientFixture : IAsyncDisposable
{
    /// <summary>Every wait in these tests ends by this bound (real time): a hang fails the test, it does not hang the run.</summary>
    public static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(30);

    private readonly ServiceProvider _provider;
    private readonly List<ConfigValues> _clients = [];

    public ConfigClientFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("bulwark-config-client-").FullName;
        var services = new ServiceCollection();
        services.AddSingleton<IServiceRegistry>(Registry);
        services.AddSingleton<TimeProvider>(Time);
        services.AddSingleton<ResolverFactory, BulwarkResolverFactory>();
        services.AddSingleton<IServiceChannelFactory, ServiceChannelFactory>();
        services.AddLogging(logging => logging.AddProvider(Logs).SetMinimumLevel(LogLevel.Debug));
        _provider = services.BuildServiceProvider();
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 12, 7, 2, 0, 0, TimeSpan.Zero));

    public InMemoryServiceRegistry Registry { get; } = new();

    public LogRecorder Logs { get; } = new();

    public MetricRecorder Metrics { get; } = new();

    public string Directory { get; }

    public string CachePath => Path.Combine(Directory, "data", "config-cache.bin");

    public ConfigClientOptions Options(params string[] prefixes) => new()
    {
        Prefixes = prefixes.Length == 0 ? ["edge/"] : prefixes,
        CachePath = CachePath,
    };

    /// <summary>Announces a config service instance at <paramref name="address"/> (host:port).</summary>
    public async Task RegisterAsync(string address) =>
        await Registry.RegisterAsync(ServiceInstance.Create(ConfigClientOptions.ServiceDefault, address, "test"), CancellationToken.None);

    /// <summary>A client as AddBulwarkConfig makes one (its cache file is read here); not started.</summary>
    public ConfigValues Create(ConfigClientOptions? options = null)
    {
        var client = new ConfigValues(
            _provider.GetRequiredService<IServiceChannelFactory>(),
            options ?? Options(),
            Time,
            _provider.GetRequiredService<ILogger<ConfigValues>>(),
            Metrics);
        _clients.Add(client);
        return client;
    }

    /// <summary>
    /// Starts the client against a service that answers: the clock stands still, so the start-up
    /// bound cannot pass and the start ends only when the service has confirmed every prefix.
    /// </summary>
    public static async Task StartAsync(ConfigValues client)
    {
        using var bound = new CancellationTokenSource(WaitMax);
        await client.StartAsync(bound.Token);
        Assert.True(client.IsFresh);
    }

    /// <summary>Starts the client while the service does not answer, moving the clock on until its start-up bound has passed.</summary>
    public async Task StartWithoutServiceAsync(ConfigValues client)
    {
        using var bound = new CancellationTokenSource(WaitMax);
        var start = client.StartAsync(bound.Token);
        await AdvanceUntilAsync(() => start.IsCompleted, "the client to start");
        await start;
    }

    /// <summary>Moves the fake clock on in small steps until <paramref name="condition"/> holds; fails after <see cref="WaitMax"/> of real time.</summary>
    public async Task AdvanceUntilAsync(Func<bool> condition, string what, TimeSpan? step = null)
    {
        using var bound = new CancellationTokenSource(WaitMax);
        while (!condition())
        {
            if (bound.IsCancellationRequested)
            {
                throw new TimeoutException($"Gave up waiting for {what} (the clock was moved to {Time.GetUtcNow():O}).");
            }
            Time.Advance(step ?? TimeSpan.FromMilliseconds(100));
            await Task.Delay(TimeSpan.FromMilliseconds(5), CancellationToken.None);
        }
    }

    /// <summary>Waits, without moving the clock, until <paramref name="condition"/> holds; fails after <see cref="WaitMax"/>.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var bound = new CancellationTokenSource(WaitMax);
        while (!condition())
        {
            if (bound.IsCancellationRequested)
            {
                throw new TimeoutException($"Gave up waiting for {what}.");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(5), CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }
        await _provider.DisposeAsync();
        Metrics.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A temporary directory left behind is harmless.
        }
    }
}

/// <summary>Keeps every log line the client writes: level, event id and message.</summary>
public sealed class LogRecorder : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, int EventId, string Message)> Lines { get; } = new();

    public bool Has(int eventId) => Lines.Any(line => line.EventId == eventId);

    public int Count(int eventId) => Lines.Count(line => line.EventId == eventId);

    public ILogger CreateLogger(string categoryName) => new Recorder(this);

    public void Dispose()
    {
    }

    private sealed class Recorder(LogRecorder owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue((logLevel, eventId.Id, formatter(state, exception)));
    }
}

/// <summary>
/// A meter factory whose meters only this recorder listens to: counters are summed by instrument
/// and tags, gauges read on demand.
/// </summary>
public sealed class MetricRecorder : IMeterFactory
{
    private readonly List<Meter> _meters = [];
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _last = new(StringComparer.Ordinal);

    public MetricRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            lock (_meters)
            {
                if (_meters.Contains(instrument.Meter))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public ConcurrentDictionary<string, double> Totals { get; } = new(StringComparer.Ordinal);

    /// <summary>The sum of a counter's measurements with these tag values, in tag order ("name/value1/value2").</summary>
    public double Total(string instrument, params string[] tagValues) =>
        Totals.TryGetValue(string.Join('/', [instrument, .. tagValues]), out var total) ? total : 0;

    /// <summary>Reads every observable instrument now and returns the last value of <paramref name="instrument"/> with these tag values.</summary>
    public double? Observe(string instrument, params string[] tagValues)
    {
        _last.Clear();
        _listener.RecordObservableInstruments();
        return _last.TryGetValue(string.Join('/', [instrument, .. tagValues]), out var value) ? value : null;
    }

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        lock (_meters)
        {
            _meters.Add(meter);
        }
        return meter;
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var key = string.Join('/', [instrument.Name, .. tags.ToArray().Select(tag => tag.Value?.ToString() ?? "")]);
        if (instrument.IsObservable)
        {
            _last[key] = value;
        }
        else
        {
            Totals.AddOrUpdate(key, value, (_, total) => total + value);
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        lock (_meters)
        {
            foreach (var meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}
