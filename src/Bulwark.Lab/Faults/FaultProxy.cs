using System.Net;
using System.Net.Sockets;

namespace Bulwark.Lab.Faults;

/// <summary>What a <see cref="FaultProxy"/> does to the bytes it carries.</summary>
public enum FaultMode
{
    /// <summary>Forward everything (plus <see cref="FaultProxy.Latency"/> and the bandwidth limit).</summary>
    Pass,

    /// <summary>
    /// Keep every connection open and accept new ones, but forward nothing in either direction:
    /// the peer sees a healthy TCP connection that has gone silent (the 2017 stalled watch).
    /// </summary>
    Blackhole,

    /// <summary>Abort every connection with a TCP reset, and reset new ones as they arrive.</summary>
    Reset,

    /// <summary>
    /// Abort every open connection; answer each new one with bytes that are no protocol at all
    /// and keep it open (a member that serves garbage: a wrong program on the port, a broken
    /// TLS terminator). The target is not contacted.
    /// </summary>
    Garbage,
}

/// <summary>
/// A TCP proxy on loopback that injects faults between a client and one target, controlled from
/// tests while traffic flows: added latency, a blackhole that forwards nothing but keeps
/// connections open, resets, and a bandwidth limit. Bytes are held, never dropped, so lifting a
/// blackhole resumes the streams intact.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private const int BufferBytes = 16 * 1024;
    private const int ConnectionsMax = 1024;

    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly HashSet<Connection> _connections = [];
    private readonly Task _acceptLoop;
    private volatile FaultMode _mode;
    private long _latencyTicks;
    private long _bytesPerSecond;

    private FaultProxy(IPEndPoint target)
    {
        _target = target;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Starts a proxy on a free loopback port in front of <paramref name="target"/>.</summary>
    public static FaultProxy Start(IPEndPoint target) => new(target ?? throw new ArgumentNullException(nameof(target)));

    /// <summary>Where clients connect.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public FaultMode Mode
    {
        get => _mode;
        set
        {
            _mode = value;
            if (value is FaultMode.Reset or FaultMode.Garbage)
            {
                ResetAll();
            }
        }
    }

    /// <summary>Added to every chunk in each direction. Default zero.</summary>
    public TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
        set => Interlocked.Exchange(ref _latencyTicks, Math.Max(0, value.Ticks));
    }

    /// <summary>Bytes per second in each direction of each connection; 0 is unlimited.</summary>
    public long BandwidthBytesPerSecond
    {
        get => Interlocked.Read(ref _bytesPerSecond);
        set => Interlocked.Exchange(ref _bytesPerSecond, Math.Max(0, value));
    }

    /// <summary>Connections open now.</summary>
    public int OpenConnections
    {
        get
        {
            lock (_lock)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>Aborts every open connection with a TCP reset; new ones are accepted as usual.</summary>
    public void ResetAll()
    {
        Connection[] all;
        lock (_lock)
        {
            all = [.. _connections];
        }
        foreach (var connection in all)
        {
            connection.Abort();
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            if (_mode == FaultMode.Reset || OpenConnections >= ConnectionsMax)
            {
                client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }
            if (_mode == FaultMode.Garbage)
            {
                _ = Task.Run(() => AnswerGarbageAsync(client));
                continue;
            }
            _ = Task.Run(() => HandleAsync(client));
        }
    }

    /// <summary>Writes junk once, then holds the connection open (reading and discarding) until the client or the proxy ends it.</summary>
    private async Task AnswerGarbageAsync(Socket client)
    {
        var connection = new Connection(client, null);
        lock (_lock)
        {
            _connections.Add(connection);
        }
        try
        {
            var junk = "HTTP/1.0 418 NOT ETCD\r\n\r\n\u0000\u00ff\u00fe garbage garbage garbage\r\n"u8.ToArray();
            await client.SendAsync(junk, SocketFlags.None, connection.Token).ConfigureAwait(false);
            var buffer = new byte[BufferBytes];
            while (await client.ReceiveAsync(buffer, SocketFlags.None, connection.Token).ConfigureAwait(false) > 0)
            {
                // Discarded: a garbage server never answers sensibly.
            }
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client gave up or the proxy stops.
        }
        finally
        {
            lock (_lock)
            {
                _connections.Remove(connection);
            }
            connection.Close();
        }
    }

    private async Task HandleAsync(Socket client)
    {
        var server = new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        var connection = new Connection(client, server);
        lock (_lock)
        {
            _connections.Add(connection);
        }
        try
        {
            await server.ConnectAsync(_target, _stopping.Token).ConfigureAwait(false);
            await Task.WhenAny(
                PumpAsync(client, server, connection.Token),
                PumpAsync(server, client, connection.Token)).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The target refused or the proxy stops: the client sees its connection end.
        }
        finally
        {
            lock (_lock)
            {
                _connections.Remove(connection);
            }
            connection.Close();
        }
    }

    private async Task PumpAsync(Socket from, Socket to, CancellationToken cancellationToken)
    {
        var buffer = new byte[BufferBytes];
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await WhileBlackholedAsync(cancellationToken).ConfigureAwait(false);
                var limit = BandwidthBytesPerSecond;
                var chunk = limit > 0 ? (int)Math.Clamp(limit / 10, 1, BufferBytes) : BufferBytes;
                var read = await from.ReceiveAsync(buffer.AsMemory(0, chunk), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }
                // A chunk read just before a blackhole began is held, not forwarded.
                await WhileBlackholedAsync(cancellationToken).ConfigureAwait(false);
                var latency = Latency;
                if (latency > TimeSpan.Zero)
                {
                    await Task.Delay(latency, cancellationToken).ConfigureAwait(false);
                }
                if (limit > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds((double)read / limit), cancellationToken).ConfigureAwait(false);
                }
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // One side closed or the connection was aborted.
        }
    }

    private async Task WhileBlackholedAsync(CancellationToken cancellationToken)
    {
        while (_mode == FaultMode.Blackhole)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        ResetAll();
        await _acceptLoop.ConfigureAwait(false);
        _listener.Dispose();
        _stopping.Dispose();
    }

    private sealed class Connection(Socket client, Socket? server)
    {
        private readonly CancellationTokenSource _cancellation = new();

        public CancellationToken Token => _cancellation.Token;

        public void Abort()
        {
            try
            {
                client.LingerState = new LingerOption(true, 0);
                server?.LingerState = new LingerOption(true, 0);
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                // Already closed.
            }
            _cancellation.Cancel();
            Close();
        }

        public void Close()
        {
            client.Dispose();
            server?.Dispose();
        }
    }
}
