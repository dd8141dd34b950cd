using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Bulwark.Cards.Authorisation;
using Bulwark.Cards.Telemetry;
using Bulwark.Iso8583;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Cards.Link;

/// <summary>
/// The ISO 8583 link: accepts scheme connections over TCP, splits each byte stream into frames,
/// answers every request as soon as it is decided (answers may overtake each other; the scheme
/// matches them by STAN and RRN) and keeps at most
/// <see cref="CardsOptions.InFlightPerConnectionMax"/> requests in flight per connection: at
/// the limit it stops reading, so TCP flow control pushes back on the scheme instead of a
/// queue growing without bound.
/// </summary>
internal sealed partial class CardLinkServer(
    CardsOptions options,
    CardProcessor processor,
    CardsMetrics metrics,
    ILogger<CardLinkServer> logger) : BackgroundService
{
    private readonly TaskCompletionSource<IPEndPoint> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Socket? _listener;
    private int _connections;

    /// <summary>The endpoint the link listens on, once started (port resolved when 0 was asked for).</summary>
    public Task<IPEndPoint> BoundEndpoint => _bound.Task;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var listener = new Socket(options.LinkEndpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(options.LinkEndpoint);
            listener.Listen(options.ConnectionsMax);
        }
        catch (SocketException)
        {
            listener.Dispose();
            throw;
        }
        _listener = listener;
        var endpoint = (IPEndPoint)listener.LocalEndPoint!;
        _bound.TrySetResult(endpoint);
        LogListening(endpoint.ToString());
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _listener?.Dispose();
        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listener = _listener ?? throw new UnreachableException("The link is executed before it was started.");
        var connections = new List<Task>();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await listener.AcceptAsync(stoppingToken);
                }
                catch (Exception error) when (error is OperationCanceledException or ObjectDisposedException or SocketException && stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                if (Interlocked.Increment(ref _connections) > options.ConnectionsMax)
                {
                    Interlocked.Decrement(ref _connections);
                    LogConnectionRefused(socket.RemoteEndPoint?.ToString() ?? "?", options.ConnectionsMax);
                    socket.Dispose();
                    continue;
                }
                connections.RemoveAll(task => task.IsCompleted);
                connections.Add(ServeAsync(socket, stoppingToken));
            }
        }
        finally
        {
            await Task.WhenAll(connections);
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken stoppingToken)
    {
        var remote = socket.RemoteEndPoint?.ToString() ?? "?";
        socket.NoDelay = true;
        LogConnected(remote);
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var connection = new LinkConnection(stream, options.InFlightPerConnectionMax);
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        try
        {
            await ReadLoopAsync(connection, remote, closing.Token);
        }
        catch (Exception error) when (error is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            LogDisconnected(remote, error.Message);
        }
        finally
        {
            // Let requests in flight finish and write their answers before the socket closes.
            await connection.DrainAsync();
            Interlocked.Decrement(ref _connections);
            LogClosed(remote);
        }
    }

    private async Task ReadLoopAsync(LinkConnection connection, string remote, CancellationToken cancellationToken)
    {
        var reader = connection.Reader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            while (true)
            {
                var status = Iso8583Framing.TryReadFrame(ref buffer, out var frame, out var framingError, options.MessageBytesMax);
                if (status == Iso8583FrameStatus.NeedMoreData)
                {
                    break;
                }
                if (status == Iso8583FrameStatus.Error)
                {
                    // The stream can no longer be split into messages: only a new connection can resync.
                    metrics.FramingError();
                    LogFramingError(remote, framingError!.Message);
                    reader.AdvanceTo(buffer.Start);
                    return;
                }
                var (message, formatError) = TryParse(frame, remote);
                if (formatError is not null)
                {
                    await connection.SendAsync(formatError, cancellationToken);
                }
                if (message is not null)
                {
                    // Back-pressure: wait for a free slot before reading further.
                    await connection.AcquireSlotAsync(cancellationToken);
                    _ = RespondAsync(connection, message, cancellationToken);
                }
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                if (buffer.Length > 0)
                {
                    metrics.FormatError(answered: false);
                    LogTruncated(remote, buffer.Length);
                }
                return;
            }
        }
    }

    private (Iso8583Message? Message, Iso8583MessageBuilder? FormatError) TryParse(ReadOnlySequence<byte> frame, string remote)
    {
        try
        {
            return (Iso8583Message.Parse(frame), null);
        }
        catch (Iso8583FormatException error) when (error.PartialMessage is { Mti.IsRequest: true } partial)
        {
            metrics.FormatError(answered: true);
            LogFormatError(remote, error.Message, answered: true);
            return (null, CardProcessor.Respond(partial, Iso8583ResponseCodes.FormatError));
        }
        catch (Iso8583FormatException error)
        {
            metrics.FormatError(answered: false);
            LogFormatError(remote, error.Message, answered: false);
            return (null, null);
        }
    }

    private async Task RespondAsync(LinkConnection connection, Iso8583Message request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var mti = request.Mti.ToString();
        metrics.Message(mti);
        try
        {
            var response = await processor.HandleAsync(request, cancellationToken);
            if (response is not null)
            {
                await connection.SendAsync(response, cancellationToken);
                metrics.Decision(mti, System.Text.Encoding.ASCII.GetString(response.GetField(Iso8583Fields.ResponseCode)), Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException || cancellationToken.IsCancellationRequested)
        {
            // The connection is gone or the link is stopping; the scheme repeats what it has no answer for.
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            // A bug or an unexpected failure: the scheme hears 96 and the link stays up.
            LogRequestFailed(error, mti);
            await TrySendAsync(connection, CardProcessor.Respond(request, Iso8583ResponseCodes.SystemMalfunction), cancellationToken);
        }
        finally
        {
            connection.ReleaseSlot();
        }
    }

    private static async Task TrySendAsync(LinkConnection connection, Iso8583MessageBuilder response, CancellationToken cancellationToken)
    {
        try
        {
            await connection.SendAsync(response, cancellationToken);
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
            // The connection is gone; the scheme repeats what it has no answer for.
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Card link (ISO 8583) listening on {Endpoint}")]
    private partial void LogListening(string endpoint);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Card link: scheme connected from {Remote}")]
    private partial void LogConnected(string remote);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Card link: connection from {Remote} closed")]
    private partial void LogClosed(string remote);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Card link: connection from {Remote} lost: {Reason}")]
    private partial void LogDisconnected(string remote, string reason);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Card link: framing error from {Remote}, closing the connection: {Reason}")]
    private partial void LogFramingError(string remote, string reason);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "Card link: format error from {Remote} (answered with 30: {Answered}): {Reason}")]
    private partial void LogFormatError(string remote, string reason, bool answered);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Warning, Message = "Card link: connection from {Remote} ended inside a frame ({Bytes} bytes unread)")]
    private partial void LogTruncated(string remote, long bytes);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "Card link: refused a connection from {Remote}: {Max} connections already open")]
    private partial void LogConnectionRefused(string remote, int max);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Error, Message = "Card link: request {Mti} failed; answered 96")]
    private partial void LogRequestFailed(Exception error, string mti);
}

/// <summary>One scheme connection: its reader, a writer shared by concurrent answers, and the in-flight slots.</summary>
internal sealed class LinkConnection(Stream stream, int inFlightMax)
{
    private readonly SemaphoreSlim _slots = new(inFlightMax, inFlightMax);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly int _inFlightMax = inFlightMax;

    public PipeReader Reader { get; } = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));

    public Task AcquireSlotAsync(CancellationToken cancellationToken) => _slots.WaitAsync(cancellationToken);

    public void ReleaseSlot() => _slots.Release();

    /// <summary>Writes one frame; frames from concurrent answers never interleave.</summary>
    public async Task SendAsync(Iso8583MessageBuilder response, CancellationToken cancellationToken)
    {
        var frame = new ArrayBufferWriter<byte>(256);
        response.WriteFrameTo(frame);
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await stream.WriteAsync(frame.WrittenMemory, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Waits (bounded) until every request in flight has answered.</summary>
    public async Task DrainAsync()
    {
        for (var taken = 0; taken < _inFlightMax; taken++)
        {
            if (!await _slots.WaitAsync(TimeSpan.FromSeconds(10)))
            {
                return;
            }
        }
    }
}
