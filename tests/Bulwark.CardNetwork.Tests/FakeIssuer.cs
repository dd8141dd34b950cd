using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Bulwark.Iso8583;

namespace Bulwark.CardNetwork.Tests;

/// <summary>What the fake issuer does with one request.</summary>
public sealed record IssuerReply
{
    /// <summary>No answer at all.</summary>
    public static IssuerReply Silence { get; } = new();

    /// <summary>Close the connection instead of answering.</summary>
    public static IssuerReply Disconnect { get; } = new() { CloseConnection = true };

    public Iso8583MessageBuilder? Response { get; init; }

    public TimeSpan Delay { get; init; }

    public bool CloseConnection { get; init; }

    public static IssuerReply Answer(Iso8583MessageBuilder response, TimeSpan delay = default) => new() { Response = response, Delay = delay };
}

/// <summary>
/// The issuer side of the link, small and scriptable: a loopback TCP server that answers per a
/// handler (answers, delays, silence, disconnects) and can inject raw bytes.
/// </summary>
public sealed class FakeIssuer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<int, Peer> _peers = new();
    private readonly ConcurrentQueue<Iso8583Message> _received = new();
    private readonly Task _accepting;
    private int _connections;
    private int _disposed;

    /// <param name="handler">Decides each reply; <see cref="DefaultReply"/> when null.</param>
    /// <param name="port">The loopback port to listen on (0: a free one); a given port lets a test restart an issuer where it was.</param>
    public FakeIssuer(Func<Iso8583Message, IssuerReply>? handler = null, int port = 0)
    {
        Handler = handler ?? DefaultReply;
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _accepting = AcceptAsync();
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>Decides each reply; may be swapped while running.</summary>
    public Func<Iso8583Message, IssuerReply> Handler { get; set; }

    public int ConnectionsAccepted => Volatile.Read(ref _connections);

    public IReadOnlyList<Iso8583Message> Received => [.. _received];

    public IReadOnlyList<Iso8583Message> ReceivedOf(MessageTypeIndicator mti) => [.. _received.Where(m => m.Mti == mti)];

    /// <summary>Answers everything: 0800 with 00, 0100 with 00 and an approval code, advices and reversals with 00.</summary>
    public static IssuerReply DefaultReply(Iso8583Message request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var response = Iso8583MessageBuilder.CreateResponse(request).Set(Iso8583Fields.ResponseCode, Iso8583ResponseCodes.Approved);
        if (request.Mti == MessageTypeIndicator.AuthorizationRequest)
        {
            response.Set(Iso8583Fields.AuthorizationIdResponse, "A12345");
        }

        return IssuerReply.Answer(response);
    }

    /// <summary>A response to <paramref name="request"/> with <paramref name="code"/>.</summary>
    public static Iso8583MessageBuilder Respond(Iso8583Message request, string code) =>
        Iso8583MessageBuilder.CreateResponse(request).Set(Iso8583Fields.ResponseCode, code);

    /// <summary>Writes raw bytes to every open connection.</summary>
    public async Task SendRawAsync(byte[] bytes)
    {
        foreach (var peer in _peers.Values)
        {
            await peer.WriteAsync(bytes);
        }
    }

    /// <summary>Writes a message (framed) to every open connection.</summary>
    public Task SendAsync(Iso8583MessageBuilder message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var frame = new byte[Iso8583Limits.FrameHeaderBytes + message.GetEncodedLength()];
        message.WriteFrameTo(frame);
        return SendRawAsync(frame);
    }

    /// <summary>Closes every open connection.</summary>
    public void DropConnections()
    {
        foreach (var peer in _peers.Values)
        {
            peer.Close();
        }
    }

    /// <summary>Stops listening and closes every connection (the scheme then finds the port refusing); idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        _listener.Stop();
        DropConnections();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception error) when (error is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var id = Interlocked.Increment(ref _connections);
            socket.NoDelay = true;
            var peer = new Peer(socket);
            _peers[id] = peer;
            _ = ServeAsync(id, peer);
        }
    }

    private async Task ServeAsync(int id, Peer peer)
    {
        var reader = PipeReader.Create(peer.Stream);
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_stopping.Token);
                var buffer = result.Buffer;
                while (Iso8583Framing.TryReadFrame(ref buffer, out var frame, out _) == Iso8583FrameStatus.Frame)
                {
                    var request = Iso8583Message.Parse(frame);
                    _received.Enqueue(request);
                    _ = ReplyAsync(peer, Handler(request));
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Connection closed.
        }
        finally
        {
            _peers.TryRemove(id, out _);
            peer.Close();
        }
    }

    private static async Task ReplyAsync(Peer peer, IssuerReply reply)
    {
        if (reply.Delay > TimeSpan.Zero)
        {
            await Task.Delay(reply.Delay);
        }

        if (reply.CloseConnection)
        {
            peer.Close();
            return;
        }

        if (reply.Response is { } response)
        {
            var frame = new byte[Iso8583Limits.FrameHeaderBytes + response.GetEncodedLength()];
            response.WriteFrameTo(frame);
            await peer.WriteAsync(frame);
        }
    }

    private sealed class Peer(Socket socket)
    {
        private readonly SemaphoreSlim _writeLock = new(1, 1);

        public NetworkStream Stream { get; } = new(socket, ownsSocket: true);

        public async Task WriteAsync(byte[] bytes)
        {
            await _writeLock.WaitAsync();
            try
            {
                await Stream.WriteAsync(bytes);
            }
            catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException)
            {
                // The scheme went away.
            }
            finally
            {
                _writeLock.Release();
            }
        }

        public void Close() => Stream.Dispose();
    }
}
