using System.Net;
using System.Text;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace Bulwark.Edge.Staff.Ops;

/// <summary>What one probe of one instance found: its health answer and the metrics the ops view reads, or why not.</summary>
public sealed record InstanceProbeResult(string Health, string? HealthError, IReadOnlyList<PrometheusSample>? Metrics, string? MetricsError)
{
    public const string Serving = "SERVING";
    public const string Unreachable = "UNREACHABLE";

    public bool Reachable => Health != Unreachable;
}

/// <summary>Probes one instance on its internal port (gRPC health and <c>/metrics</c>) within a deadline.</summary>
public interface IOpsInstanceProbe
{
    /// <summary>
    /// Never throws for the instance's faults (refused, hanging, garbage): they are the answer. Cancelled
    /// only by <paramref name="cancellationToken"/>. Without <paramref name="readMetrics"/> only the
    /// health check is made (another name of a process whose metrics are already being read).
    /// </summary>
    Task<InstanceProbeResult> ProbeAsync(string service, string address, bool readMetrics, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>
/// The probe <c>bulwark cluster status</c> makes, from inside the bank: <c>grpc.health.v1</c> for the
/// registered service name, and the instance's Prometheus text at <c>/metrics</c>, both over
/// plaintext HTTP/2 on its internal port, both within one deadline — an instance that accepts a
/// connection and never answers is reported unreachable when the deadline passes, never waited on.
/// </summary>
internal sealed class HttpOpsInstanceProbe : IOpsInstanceProbe, IDisposable
{
    private readonly SocketsHttpHandler _handler = new()
    {
        // Bounded even without the caller's deadline: a dead address must not hold a socket for the OS's minutes.
        ConnectTimeout = TimeSpan.FromMilliseconds(OpsLimits.ProbeTimeoutMillisecondsMax),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        EnableMultipleHttp2Connections = false,
    };

    private readonly HttpClient _http;

    public HttpOpsInstanceProbe()
    {
        _http = new HttpClient(_handler, disposeHandler: false)
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public async Task<InstanceProbeResult> ProbeAsync(string service, string address, bool readMetrics, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var health = HealthAsync(service, address, timeout, deadline.Token);
        var metrics = readMetrics ? MetricsAsync(address, deadline.Token) : Task.FromResult<(IReadOnlyList<PrometheusSample>?, string?)>((null, "not read: another name of a process read once"));
        await Task.WhenAll(health, metrics);
        cancellationToken.ThrowIfCancellationRequested();
        var (status, healthError) = await health;
        var (samples, metricsError) = await metrics;
        return new InstanceProbeResult(status, healthError, samples, metricsError);
    }

    private async Task<(string Status, string? Error)> HealthAsync(string service, string address, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress($"http://{address}", new GrpcChannelOptions
        {
            HttpHandler = _handler,
            DisposeHttpClient = false,
            Credentials = ChannelCredentials.Insecure,
        });
        try
        {
            var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest { Service = service },
                deadline: DateTime.UtcNow.Add(timeout), cancellationToken: cancellationToken);
            return (reply.Status.ToString().ToUpperInvariant() switch { "SERVING" => InstanceProbeResult.Serving, var other => other }, null);
        }
        catch (RpcException error) when (error.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Cancelled or StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown)
        {
            return (InstanceProbeResult.Unreachable, error.StatusCode == StatusCode.Unavailable ? $"unavailable: {error.Status.Detail}" : $"no answer within {timeout.TotalSeconds:0.#} s ({error.StatusCode})");
        }
        catch (RpcException error)
        {
            // It answered, with something other than SERVING (NOT_FOUND: it does not serve that name).
            return (error.StatusCode.ToString().ToUpperInvariant(), error.Status.Detail);
        }
        catch (OperationCanceledException)
        {
            return (InstanceProbeResult.Unreachable, $"no answer within {timeout.TotalSeconds:0.#} s");
        }
    }

    private async Task<(IReadOnlyList<PrometheusSample>? Samples, string? Error)> MetricsAsync(string address, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri($"http://{address}/metrics"), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"/metrics answered {(int)response.StatusCode}");
            }
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[OpsLimits.MetricsBytesMax];
            var length = 0;
            int read;
            while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0)
            {
                length += read;
            }
            if (length == buffer.Length)
            {
                return (null, $"/metrics is over {OpsLimits.MetricsBytesMax / (1024 * 1024)} MiB");
            }
            return (PrometheusSamples.Parse(Encoding.UTF8.GetString(buffer, 0, length), OpsMetricNames.Wanted), null);
        }
        catch (OperationCanceledException)
        {
            return (null, "/metrics: no answer within the deadline");
        }
        catch (HttpRequestException error)
        {
            return (null, $"/metrics unreachable: {error.Message}");
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _handler.Dispose();
    }
}

/// <summary>The Prometheus names of the metrics the ops view reads (as the OpenTelemetry exporter names them; the alert rules use the same).</summary>
public static class OpsMetricNames
{
    public const string DiscoveryStaleSeconds = "discovery_stale_seconds";
    public const string CardDecisions = "bulwark_cards_decisions_total";
    public const string CardStandIns = "bulwark_cards_stand_in_total";
    public const string EventLogLagSeconds = "bulwark_ledger_events_lag_seconds";
    public const string EventLogLagEvents = "bulwark_ledger_events_lag";
    public const string PartitionsBehindLog = "bulwark_ledger_partitions_behind_log";
    public const string CoherenceChecks = "bulwark_coherence_checks_total";
    public const string ConfigStaleSeconds = "bulwark_config_client_stale_seconds";
    public const string ConfigUntrustedKeys = "bulwark_config_client_untrusted_keys";
    public const string ConfigMalformedKept = "bulwark_config_client_malformed_kept";
    public const string ConfigRevisionRefused = "bulwark_config_client_revision_refused";

    private static readonly HashSet<string> All = [DiscoveryStaleSeconds, CardDecisions, CardStandIns, EventLogLagSeconds, EventLogLagEvents, PartitionsBehindLog,
        CoherenceChecks, ConfigStaleSeconds, ConfigUntrustedKeys, ConfigMalformedKept, ConfigRevisionRefused];

    public static bool Wanted(string name) => All.Contains(name);
}
