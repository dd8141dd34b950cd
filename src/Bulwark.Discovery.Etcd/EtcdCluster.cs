using Bulwark.Discovery.Etcd.Api;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace Bulwark.Discovery.Etcd;

/// <summary>
/// Connections to every known etcd member. Calls go to the current member; a member that fails or
/// does not answer within the deadline is left for the next one. The member list is re-read so
/// that members added by a resize are used and removed ones are dropped (seeds are always kept:
/// they may be proxies or names that do not appear in the member list).
/// </summary>
public sealed partial class EtcdCluster : IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<Uri> _seeds;
    private readonly Dictionary<Uri, GrpcChannel> _channels = [];
    private readonly TimeSpan _callTimeout;
    private readonly ILogger _logger;
    private List<Uri> _endpoints;
    private int _current;
    private long _lastFailoverLogTimestamp;

    public EtcdCluster(IReadOnlyList<Uri> seeds, TimeSpan callTimeout, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        _seeds = [.. seeds];
        _endpoints = [.. seeds];
        _callTimeout = callTimeout;
        _logger = logger;
    }

    /// <summary>Every endpoint currently known, current one first.</summary>
    public IReadOnlyList<Uri> Endpoints
    {
        get
        {
            lock (_lock)
            {
                return [.. _endpoints.Skip(_current), .. _endpoints.Take(_current)];
            }
        }
    }

    /// <summary>The member calls go to now.</summary>
    public Uri Current
    {
        get
        {
            lock (_lock)
            {
                return _endpoints[_current];
            }
        }
    }

    /// <summary>A channel to the current member.</summary>
    public GrpcChannel CurrentChannel => Channel(Current);

    /// <summary>Moves to the next member if <paramref name="failed"/> is still the current one.</summary>
    public void Failover(Uri failed, string why)
    {
        Uri next;
        lock (_lock)
        {
            if (_endpoints[_current] != failed)
            {
                return;
            }
            _current = (_current + 1) % _endpoints.Count;
            next = _endpoints[_current];
        }
        // While every member is down, failovers come every few hundred milliseconds: log one in
        // five seconds so the first is seen and the log is still readable.
        var now = TimeProvider.System.GetTimestamp();
        var last = Interlocked.Read(ref _lastFailoverLogTimestamp);
        if (last == 0 || TimeProvider.System.GetElapsedTime(last) > FailoverLogInterval)
        {
            Interlocked.Exchange(ref _lastFailoverLogTimestamp, now);
            LogFailover(failed, next, why);
        }
    }

    private static readonly TimeSpan FailoverLogInterval = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Runs a unary call against the current member, then each other member in turn, each with
    /// its own deadline. Every way a member can fail to answer (refused, reset, hung until the
    /// deadline, garbage on the wire, a cancelled stream) moves to the next one; when all failed
    /// it throws <see cref="EtcdUnavailableException"/>. A cancelled <paramref name="cancellationToken"/>
    /// always surfaces as <see cref="OperationCanceledException"/>, never as a gRPC status.
    /// </summary>
    public async Task<T> CallAsync<T>(Func<GrpcChannel, CallOptions, Task<T>> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var attempts = Endpoints.Count;
        Exception? last = null;
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var endpoint = Current;
            try
            {
                var options = new CallOptions(deadline: DateTime.UtcNow.Add(_callTimeout), cancellationToken: cancellationToken);
                return await call(Channel(endpoint), options).ConfigureAwait(false);
            }
            catch (Exception error) when (IsNotAnswering(error))
            {
                cancellationToken.ThrowIfCancellationRequested();
                last = error;
                Failover(endpoint, Describe(error));
            }
        }
        throw new EtcdUnavailableException($"no etcd member answered ({(last is null ? "no member" : Describe(last))})", last);
    }

    /// <summary>
    /// Runs the same unary call against every known member at once and returns the first answer
    /// (start-up: one hung member must not cost a whole deadline before the next is asked). The
    /// member that answered becomes the current one; the other calls are cancelled.
    /// </summary>
    public async Task<T> CallFirstAsync<T>(Func<GrpcChannel, CallOptions, Task<T>> call, TimeSpan deadline, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        using var losers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var endpoints = Endpoints;
        var until = DateTime.UtcNow.Add(deadline < _callTimeout ? deadline : _callTimeout);
        var pending = endpoints.Select(endpoint => AttemptAsync(endpoint)).ToList();
        Exception? last = null;
        // The deadline is kept by the clock here, not only by gRPC: a call on a connection to a
        // stopped process can take a while to unwind after its deadline, and start-up promises a
        // bound. Calls still unwinding are cancelled and left to finish on their own.
        var firmAfter = until - DateTime.UtcNow + TimeSpan.FromMilliseconds(50);
        var firm = Task.Delay(firmAfter > TimeSpan.Zero ? firmAfter : TimeSpan.Zero, CancellationToken.None);
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny([.. pending, firm]).ConfigureAwait(false);
            if (done == firm)
            {
                await losers.CancelAsync().ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                throw new EtcdUnavailableException($"no etcd member answered within {deadline.TotalMilliseconds:0} ms", last);
            }
            var attempt = (Task<(Uri Endpoint, T? Result, Exception? Error)>)done;
            pending.Remove(attempt);
            var (endpoint, result, error) = await attempt.ConfigureAwait(false);
            if (error is null)
            {
                await losers.CancelAsync().ConfigureAwait(false);
                Prefer(endpoint);
                return result!;
            }
            last = error;
        }
        cancellationToken.ThrowIfCancellationRequested();
        throw new EtcdUnavailableException($"no etcd member answered ({(last is null ? "no member" : Describe(last))})", last);

        async Task<(Uri Endpoint, T? Result, Exception? Error)> AttemptAsync(Uri endpoint)
        {
            try
            {
                var options = new CallOptions(deadline: until, cancellationToken: losers.Token);
                return (endpoint, await call(Channel(endpoint), options).ConfigureAwait(false), null);
            }
            catch (Exception error) when (IsNotAnswering(error))
            {
                return (endpoint, default, error);
            }
        }
    }

    /// <summary>Makes <paramref name="endpoint"/> the current member if it is still known.</summary>
    public void Prefer(Uri endpoint)
    {
        lock (_lock)
        {
            var index = _endpoints.IndexOf(endpoint);
            if (index >= 0)
            {
                _current = index;
            }
        }
    }

    /// <summary>Reads the member list and adopts the members' client URLs (seeds stay).</summary>
    public async Task RefreshMembersAsync(CancellationToken cancellationToken)
    {
        var response = await CallAsync(
            (channel, options) => new Cluster.ClusterClient(channel).MemberListAsync(new MemberListRequest(), options).ResponseAsync,
            cancellationToken).ConfigureAwait(false);
        var discovered = response.Members
            .Where(member => !member.IsLearner)
            .SelectMany(member => member.ClientURLs)
            .Select(url => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri : null)
            .OfType<Uri>()
            .ToList();
        if (discovered.Count == 0)
        {
            return;
        }
        lock (_lock)
        {
            var current = _endpoints[_current];
            var updated = _seeds.Concat(discovered).Distinct().ToList();
            if (updated.SequenceEqual(_endpoints))
            {
                return;
            }
            foreach (var gone in _endpoints.Except(updated))
            {
                if (_channels.Remove(gone, out var channel))
                {
                    channel.Dispose();
                }
            }
            _endpoints = updated;
            var index = updated.IndexOf(current);
            _current = index >= 0 ? index : 0;
        }
        LogMembers(string.Join(", ", discovered));
    }

    /// <summary>
    /// True for every failure that means "this member did not answer": any gRPC status (a member
    /// that answers with an error it should not give is as useless as a silent one — an
    /// operator's mistake such as a wrong endpoint shows in the log line, not as a crash), a
    /// cancellation, and the transport and protocol errors the client can throw before a status
    /// exists.
    /// </summary>
    internal static bool IsNotAnswering(Exception error) =>
        error is RpcException or OperationCanceledException or IOException or HttpRequestException
            or InvalidOperationException or ObjectDisposedException or EtcdUnavailableException;

    internal static string Describe(Exception error) => error switch
    {
        RpcException rpc => string.IsNullOrEmpty(rpc.Status.Detail) ? rpc.StatusCode.ToString() : $"{rpc.StatusCode}: {rpc.Status.Detail}",
        OperationCanceledException => "no answer in time",
        _ => error.Message,
    };

    private GrpcChannel Channel(Uri endpoint)
    {
        lock (_lock)
        {
            if (!_channels.TryGetValue(endpoint, out var channel))
            {
                channel = GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions
                {
                    Credentials = ChannelCredentials.Insecure,
                    HttpHandler = new SocketsHttpHandler
                    {
                        ConnectTimeout = _callTimeout,
                        EnableMultipleHttp2Connections = true,
                        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                    },
                });
                _channels[endpoint] = channel;
            }
            return channel;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var channel in _channels.Values)
            {
                channel.Dispose();
            }
            _channels.Clear();
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "etcd member {Failed} failed ({Why}); moving to {Next}")]
    private partial void LogFailover(Uri failed, Uri next, string why);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "etcd members: {Members}")]
    private partial void LogMembers(string members);
}

/// <summary>No etcd member could be reached for a call.</summary>
public sealed class EtcdUnavailableException(string message, Exception? inner) : Exception(message, inner);
