using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Bulwark.Discovery.Etcd;
using Bulwark.Lab.Cluster;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using HdrHistogram;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark bench discovery</c>: (1) propagation — from a registration's put to the moment every
/// watching process has it in its view, p50/p99; (2) the per-call cost of <c>bulwark:///</c>
/// routing against a direct channel to the same server, in the same run.
/// </summary>
internal static class BenchDiscoveryCommand
{
    private const string Service = "bench-discovery";
    private const int WaitSecondsMax = 10;

    public static Command Create()
    {
        var registry = new Option<string?>("--registry") { Description = "etcd members (etcd://host:port,...). Default: start one local etcd member in a temporary directory." };
        var watchers = CommonOptions.PositiveInt("--watchers", "Watching processes (each its own registry, watch and lease).", 5, 64);
        var registrations = CommonOptions.PositiveInt("--registrations", "Registrations timed for propagation.", 200, 100_000);
        var calls = CommonOptions.PositiveInt("--calls", "Calls per channel per round for the routing overhead.", 2_000, 1_000_000);
        var rounds = CommonOptions.PositiveInt("--rounds", "Alternating rounds of direct and bulwark:/// calls.", 10, 1_000);
        var stalls = CommonOptions.PositiveInt("--stalls", "Silent watch stalls (blackholed through a fault proxy) timed to recovery.", 5, 100);
        var output = new Option<DirectoryInfo?>("--out") { Description = "Write discovery-YYYY-MM-DD.json and .md into this directory (e.g. bench/results)." };
        var command = new Command("discovery", "Discovery propagation (registration to every watcher) and bulwark:/// routing overhead.")
        {
            registry, watchers, registrations, calls, rounds, stalls, output,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new Settings(parse.GetValue(watchers), parse.GetValue(registrations), parse.GetValue(calls), parse.GetValue(rounds), parse.GetValue(stalls));
            IReadOnlyList<Uri> endpoints;
            LocalEtcd? local = null;
            try
            {
                if (parse.GetValue(registry) is { } address)
                {
                    endpoints = EtcdRegistryAddress.Parse(address);
                }
                else
                {
                    local = await LocalEtcd.StartAsync(cancellationToken);
                    endpoints = [local.ClientUrl];
                }
                var result = await RunAsync(endpoints, settings, cancellationToken);
                var markdown = ToMarkdown(result, settings, local is not null);
                Console.WriteLine();
                Console.Write(markdown);
                if (parse.GetValue(output) is { } directory)
                {
                    directory.Create();
                    var name = string.Create(CultureInfo.InvariantCulture, $"discovery-{DateTime.UtcNow:yyyy-MM-dd}");
                    var json = Path.Combine(directory.FullName, name + ".json");
                    var md = Path.Combine(directory.FullName, name + ".md");
                    await File.WriteAllTextAsync(json, JsonSerializer.Serialize(new { settings, result }, JsonOptions), cancellationToken);
                    await File.WriteAllTextAsync(md, markdown, cancellationToken);
                    Console.WriteLine($"wrote {json} and {md}");
                }
                return 0;
            }
            catch (Exception error) when (error is FormatException or EtcdUnavailableException or InvalidOperationException)
            {
                await Console.Error.WriteLineAsync($"bulwark bench discovery: {error.Message}");
                return 2;
            }
            finally
            {
                local?.Dispose();
            }
        });
        return command;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private sealed record Settings(int Watchers, int Registrations, int Calls, int Rounds, int Stalls);

    private sealed record Result(
        DateTime StartedAt, int Watchers, int Registrations,
        double PropagationP50Milliseconds, double PropagationP99Milliseconds, double PropagationMaxMilliseconds,
        double DirectMeanMicroseconds, double DirectP50Microseconds, double DirectP99Microseconds,
        double RoutedMeanMicroseconds, double RoutedP50Microseconds, double RoutedP99Microseconds,
        double OverheadRatio,
        double StaleAfterSeconds, double StallRecoveryP50Milliseconds, double StallRecoveryMaxMilliseconds);

    private static async Task<Result> RunAsync(IReadOnlyList<Uri> endpoints, Settings settings, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        var prefix = $"/bulwark-bench-{Guid.NewGuid():N}/";
        EtcdRegistryOptions Options(string name) => new() { Endpoints = endpoints, KeyPrefix = prefix, ProcessName = name };
        await using var writer = await EtcdServiceRegistry.StartAsync(Options("bench-writer"), cancellationToken: cancellationToken);
        var watchers = new List<EtcdServiceRegistry>();
        try
        {
            for (var i = 0; i < settings.Watchers; i++)
            {
                watchers.Add(await EtcdServiceRegistry.StartAsync(Options($"bench-watcher-{i}"), cancellationToken: cancellationToken));
            }
            // A real server keeps the service non-empty (so removals are fresh, R2) and is the
            // target of the routing comparison.
            var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Warning }, writer);
            builder.Services.AddHostedBulwarkService(Service);
            await using var server = builder.Build();
            server.UsePlatform();
            await server.StartAsync(cancellationToken);
            var address = server.Services.GetRequiredService<InternalEndpointAccessor>().Get();

            var propagation = await MeasurePropagationAsync(writer, watchers, settings.Registrations, cancellationToken);
            var (direct, routed) = await MeasureRoutingAsync(watchers[0], address, settings, cancellationToken);
            await server.StopAsync(cancellationToken);
            var staleAfter = new EtcdRegistryOptions { Endpoints = endpoints }.StaleAfterSeconds;
            var recovery = await MeasureStallRecoveryAsync(writer, endpoints, prefix, settings.Stalls, cancellationToken);
            return new Result(started, settings.Watchers, settings.Registrations,
                propagation.GetValueAtPercentile(50) / 1000.0, propagation.GetValueAtPercentile(99) / 1000.0, propagation.GetMaxValue() / 1000.0,
                direct.GetMean(), direct.GetValueAtPercentile(50), direct.GetValueAtPercentile(99),
                routed.GetMean(), routed.GetValueAtPercentile(50), routed.GetValueAtPercentile(99),
                routed.GetMean() / direct.GetMean(),
                staleAfter, recovery.GetValueAtPercentile(50) / 1000.0, recovery.GetMaxValue() / 1000.0);
        }
        finally
        {
            foreach (var watcher in watchers)
            {
                await watcher.DisposeAsync();
            }
        }
    }

    /// <summary>Microseconds from the start of a registration until the last watcher has it.</summary>
    private static async Task<LongHistogram> MeasurePropagationAsync(EtcdServiceRegistry writer, List<EtcdServiceRegistry> watchers, int registrations, CancellationToken cancellationToken)
    {
        var histogram = new LongHistogram(TimeSpan.FromSeconds(WaitSecondsMax).Ticks, 3);
        string? expected = null;
        var seen = 0;
        var allSeen = new SemaphoreSlim(0);
        var subscriptions = watchers.Select(watcher =>
        {
            var sawCurrent = "";
            return watcher.Watch(Service, view =>
            {
                var target = Volatile.Read(ref expected);
                if (target is not null && sawCurrent != target && view.Instances.Any(i => i.InstanceId == target))
                {
                    sawCurrent = target;
                    if (Interlocked.Increment(ref seen) == watchers.Count)
                    {
                        allSeen.Release();
                    }
                }
            });
        }).ToList();
        try
        {
            for (var i = 0; i < registrations; i++)
            {
                var instance = new ServiceInstance(Service, $"timed-{i}", $"127.0.0.1:{20_000 + i % 40_000}", "bench");
                Interlocked.Exchange(ref seen, 0);
                Volatile.Write(ref expected, instance.InstanceId);
                var start = Stopwatch.GetTimestamp();
                var registration = await writer.RegisterAsync(instance, cancellationToken);
                if (!await allSeen.WaitAsync(TimeSpan.FromSeconds(WaitSecondsMax), cancellationToken))
                {
                    throw new InvalidOperationException($"registration {i} not seen by every watcher within {WaitSecondsMax} s");
                }
                histogram.RecordValue(Stopwatch.GetElapsedTime(start).Ticks / 10);
                Volatile.Write(ref expected, null);
                await registration.DisposeAsync();
            }
        }
        finally
        {
            foreach (var subscription in subscriptions)
            {
                subscription.Dispose();
            }
        }
        return histogram;
    }

    /// <summary>
    /// R3 with default options: a watcher reaches etcd through a fault proxy that goes silent
    /// (connections open, nothing forwarded); a registration is made meanwhile. Microseconds from
    /// the registration until the watcher has it: stall detection plus reconnecting to the member
    /// directly (learnt from the member list) and resuming from the last revision.
    /// </summary>
    private static async Task<LongHistogram> MeasureStallRecoveryAsync(EtcdServiceRegistry writer, IReadOnlyList<Uri> endpoints, string prefix, int stalls, CancellationToken cancellationToken)
    {
        var histogram = new LongHistogram(TimeSpan.FromSeconds(WaitSecondsMax * 3).Ticks, 3);
        for (var i = 0; i < stalls; i++)
        {
            var target = await ResolveAsync(endpoints[0], cancellationToken);
            await using var proxy = Bulwark.Lab.Faults.FaultProxy.Start(target);
            await using var watcher = await EtcdServiceRegistry.StartAsync(new EtcdRegistryOptions
            {
                Endpoints = [new Uri($"http://{proxy.EndPoint}")],
                KeyPrefix = prefix,
                ProcessName = $"bench-stalled-{i}",
                MemberRefreshIntervalSeconds = 0.5,
            }, cancellationToken: cancellationToken);
            if (!await PollAsync(() => watcher.Members.Count > 1, cancellationToken))
            {
                throw new InvalidOperationException("the stalled watcher did not learn the member list");
            }
            var id = $"after-stall-{i}";
            using var seen = new SemaphoreSlim(0);
            using var subscription = watcher.Watch(Service, view =>
            {
                if (view.Instances.Any(instance => instance.InstanceId == id))
                {
                    seen.Release();
                }
            });
            proxy.Mode = Bulwark.Lab.Faults.FaultMode.Blackhole;
            var start = Stopwatch.GetTimestamp();
            await using var registration = await writer.RegisterAsync(new ServiceInstance(Service, id, "127.0.0.1:1", "bench"), cancellationToken);
            if (!await seen.WaitAsync(TimeSpan.FromSeconds(WaitSecondsMax * 3), cancellationToken))
            {
                throw new InvalidOperationException($"a registration made during stall {i} was not seen within {WaitSecondsMax * 3} s");
            }
            histogram.RecordValue(Stopwatch.GetElapsedTime(start).Ticks / 10);
        }
        return histogram;
    }

    private static async Task<IPEndPoint> ResolveAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(endpoint.Host, out var address))
        {
            return new IPEndPoint(address, endpoint.Port);
        }
        var addresses = await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken);
        return new IPEndPoint(addresses[0], endpoint.Port);
    }

    private static async Task<bool> PollAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < WaitSecondsMax * 20; attempt++)
        {
            if (condition())
            {
                return true;
            }
            await Task.Delay(50, cancellationToken);
        }
        return condition();
    }

    /// <summary>Sequential unary calls alternating between a direct and a routed channel; microseconds.</summary>
    private static async Task<(LongHistogram Direct, LongHistogram Routed)> MeasureRoutingAsync(EtcdServiceRegistry registry, IPEndPoint server, Settings settings, CancellationToken cancellationToken)
    {
        var provider = new ServiceCollection().AddSingleton<ResolverFactory>(new BulwarkResolverFactory(registry)).BuildServiceProvider();
        using var routedChannel = GrpcChannel.ForAddress($"bulwark:///{Service}", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            ServiceProvider = provider,
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } },
        });
        using var directChannel = GrpcChannel.ForAddress($"http://{server}");
        var routed = new Health.HealthClient(routedChannel);
        var direct = new Health.HealthClient(directChannel);
        var request = new HealthCheckRequest { Service = Service };
        var directHistogram = new LongHistogram(TimeSpan.FromSeconds(WaitSecondsMax).Ticks, 3);
        var routedHistogram = new LongHistogram(TimeSpan.FromSeconds(WaitSecondsMax).Ticks, 3);
        await CallsAsync(direct, routed, request, settings.Calls, null, null, cancellationToken);
        for (var round = 0; round < settings.Rounds; round++)
        {
            await CallsAsync(direct, routed, request, settings.Calls, directHistogram, routedHistogram, cancellationToken);
        }
        await provider.DisposeAsync();
        return (directHistogram, routedHistogram);
    }

    /// <summary>
    /// Calls alternate one by one (direct, routed, routed, direct, ...) so that the load of other
    /// processes on a shared machine falls on both channels alike.
    /// </summary>
    private static async Task CallsAsync(Health.HealthClient direct, Health.HealthClient routed, HealthCheckRequest request, int calls, LongHistogram? directHistogram, LongHistogram? routedHistogram, CancellationToken cancellationToken)
    {
        for (var i = 0; i < calls; i++)
        {
            var routedFirst = i % 2 == 1;
            await TimedCallAsync(routedFirst ? routed : direct, request, routedFirst ? routedHistogram : directHistogram, cancellationToken);
            await TimedCallAsync(routedFirst ? direct : routed, request, routedFirst ? directHistogram : routedHistogram, cancellationToken);
        }
    }

    private static async Task TimedCallAsync(Health.HealthClient client, HealthCheckRequest request, LongHistogram? histogram, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        await client.CheckAsync(request, deadline: DateTime.UtcNow.AddSeconds(WaitSecondsMax), cancellationToken: cancellationToken);
        histogram?.RecordValue(Math.Max(1, Stopwatch.GetElapsedTime(start).Ticks / 10));
    }

    private static string ToMarkdown(Result result, Settings settings, bool localEtcd)
    {
        var text = new StringBuilder();
        var culture = CultureInfo.InvariantCulture;
        text.AppendLine("# Discovery benchmark");
        text.AppendLine();
        text.AppendLine(string.Create(culture, $"Run {result.StartedAt:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, .NET {Environment.Version}; etcd {(localEtcd ? "one local member started by the benchmark" : "given by --registry")}; everything on loopback in one OS process (each watcher its own registry, watch and lease)."));
        text.AppendLine();
        text.AppendLine("## Propagation: registration put until every watcher's view has it");
        text.AppendLine();
        text.AppendLine("| watchers | registrations | p50 ms | p99 ms | max ms |");
        text.AppendLine("|---:|---:|---:|---:|---:|");
        text.AppendLine(string.Create(culture, $"| {result.Watchers} | {result.Registrations:N0} | {result.PropagationP50Milliseconds:0.00} | {result.PropagationP99Milliseconds:0.00} | {result.PropagationMaxMilliseconds:0.00} |"));
        text.AppendLine();
        text.AppendLine("## Routing overhead: `bulwark:///` against a direct channel, same server, same run");
        text.AppendLine();
        text.AppendLine(string.Create(culture, $"Sequential unary `grpc.health.v1` calls alternating one by one between the two channels (direct first, then routed first, and so on): {settings.Rounds} rounds of {settings.Calls:N0} calls per channel after a warm-up round."));
        text.AppendLine();
        text.AppendLine("| channel | mean µs | p50 µs | p99 µs |");
        text.AppendLine("|---|---:|---:|---:|");
        text.AppendLine(string.Create(culture, $"| direct `http://` | {result.DirectMeanMicroseconds:0} | {result.DirectP50Microseconds:0} | {result.DirectP99Microseconds:0} |"));
        text.AppendLine(string.Create(culture, $"| `bulwark:///` | {result.RoutedMeanMicroseconds:0} | {result.RoutedP50Microseconds:0} | {result.RoutedP99Microseconds:0} |"));
        text.AppendLine();
        text.AppendLine(string.Create(culture, $"Overhead (mean routed / mean direct): **{result.OverheadRatio:0.000}** ({(result.OverheadRatio - 1) * 100:+0.0;-0.0}%); at the median {result.RoutedP50Microseconds / result.DirectP50Microseconds:0.000}."));
        text.AppendLine();
        text.AppendLine("## Silent watch stall: registration made during a stall until the stalled watcher has it");
        text.AppendLine();
        text.AppendLine(string.Create(culture, $"Default options (stale after {result.StaleAfterSeconds:0.#} s, a progress request every second); the watcher reaches etcd through the chaos proxy, which is blackholed just before the registration. {settings.Stalls} stalls."));
        text.AppendLine();
        text.AppendLine("| stalls | p50 ms | max ms |");
        text.AppendLine("|---:|---:|---:|");
        text.AppendLine(string.Create(culture, $"| {settings.Stalls} | {result.StallRecoveryP50Milliseconds:0} | {result.StallRecoveryMaxMilliseconds:0} |"));
        return text.ToString();
    }

    /// <summary>One etcd member on free loopback ports in a temporary directory, killed at the end.</summary>
    private sealed class LocalEtcd : IDisposable
    {
        private readonly Process _process;
        private readonly string _directory;

        private LocalEtcd(Process process, string directory, Uri clientUrl)
        {
            _process = process;
            _directory = directory;
            ClientUrl = clientUrl;
        }

        public Uri ClientUrl { get; }

        public static async Task<LocalEtcd> StartAsync(CancellationToken cancellationToken)
        {
            var directory = Path.Combine(Path.GetTempPath(), $"bulwark-bench-etcd-{Guid.NewGuid():N}");
            var client = $"http://127.0.0.1:{FreePort()}";
            var peer = $"http://127.0.0.1:{FreePort()}";
            var info = new ProcessStartInfo("etcd",
                $"--name bench --data-dir {directory} --listen-client-urls {client} --advertise-client-urls {client} --listen-peer-urls {peer} --initial-advertise-peer-urls {peer} --initial-cluster bench={peer} --experimental-watch-progress-notify-interval 1s --log-level error --logger zap")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            Process process;
            try
            {
                process = Process.Start(info) ?? throw new InvalidOperationException("etcd did not start");
            }
            catch (System.ComponentModel.Win32Exception error)
            {
                throw new InvalidOperationException($"cannot start etcd ({error.Message}): install etcd-server or pass --registry", error);
            }
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var local = new LocalEtcd(process, directory, new Uri(client));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
            for (var attempt = 0; attempt < 100; attempt++)
            {
                try
                {
                    using var response = await http.GetAsync(new Uri(local.ClientUrl, "/health"), cancellationToken);
                    if (response.IsSuccessStatusCode)
                    {
                        return local;
                    }
                }
                catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
                {
                    // Not up yet.
                }
                await Task.Delay(100, cancellationToken);
            }
            local.Dispose();
            throw new InvalidOperationException("the local etcd member did not become healthy in 10 s");
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        public void Dispose()
        {
            try
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
            _process.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }
}
