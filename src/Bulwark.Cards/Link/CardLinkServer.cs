using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Bulwark.Cards.Authorisation;
using Bulwark.Cards.Telemetry;
using Bulwark.Iso8583;
using Bulwark.Platform.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Cards.Link;

/// <summary>
/// The ISO 8583 link: accepts scheme connections over TCP, splits each byte stream into frames,
/// answers every request as soon as it is decided (answers may overtake each other; the scheme
/// matches them by STAN and RRN) and keeps at most
/// <see cref="CardsOptions.InFlightPerConnectionMax"/> requests in flight per connection: at
/// the limit it stops reading, so TCP flow control pushes back on the scheme instead of a
/// queue growing without bound. Only sources in <see cref="CardsOptions.LinkAllowedSources"/> may
/// connect; until a connection has signed on (0800, field 70 = 001) every other request is answered
/// 91 and nothing is processed; idle, read and write timeouts close connections that stall.
/// </summary>
internal sealed partial class CardLinkServer(
    CardsOptions options,
    CardProcessor processor,
    CardsMetrics metrics,
    ILogger<CardLinkServer> logger) : BackgroundService
{
    private readonly TaskCompletionSource<IPEndPoint> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Bulwark.Platform.Security.SourceNetworks _allowList = new(options.LinkAllowedSources);
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
                if (!_allowList.Allows(socket.RemoteEndPoint))
                {
                    metrics.LinkRefusal("source_not_allowed");
                    LogSourceNotAllowed(socket.RemoteEndPoint?.ToString() ?? "?");
                    socket.Dispose();
                    continue;
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
        using var connection = new LinkConnection(stream, options.InFlightPerConnectionMax, options.LinkWriteTimeout, options.Time, stoppingToken);
        try
        {
            await ReadLoopAsync(connection, remote);
        }
        catch (TimeoutException)
        {
            // ReadLoopAsync has counted and logged which timeout it was.
        }
        catch (Exception error) when (error is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            LogDisconnected(remote, error.Message);
        }
        finally
        {
            // Let requests in flight finish and write their answers (each write bounded) before the socket closes.
            await connection.DrainAsync();
            connection.Close();
            Interlocked.Decrement(ref _connections);
            LogClosed(remote);
        }
    }

    private async Task ReadLoopAsync(LinkConnection connection, string remote)
    {
        var reader = connection.Reader;
        long? partialSince = null;
        while (true)
        {
            var result = await ReadWithTimeoutAsync(connection, remote, partialSince);
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
                    await connection.SendAsync(formatError);
                }
                if (message is not null && Admit(connection, message, remote) is { } refusal)
                {
                    await connection.SendAsync(refusal);
                }
                else if (message is not null)
                {
                    // Back-pressure: wait for a free slot before reading further.
                    await connection.AcquireSlotAsync();
                    _ = RespondAsync(connection, message);
                }
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            partialSince = buffer.Length == 0 ? null : partialSince ?? options.Time.GetTimestamp();
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

    /// <summary>
    /// Between messages the idle timeout applies; inside a message, the read timeout counted from its
    /// first byte, so a peer dribbling one byte at a time cannot hold the connection either.
    /// </summary>
    private async ValueTask<ReadResult> ReadWithTimeoutAsync(LinkConnection connection, string remote, long? partialSince)
    {
        var timeout = partialSince is { } since
            ? options.LinkReadTimeout - options.Time.GetElapsedTime(since)
            : options.LinkIdleTimeout;
        try
        {
            return await connection.ReadAsync(timeout);
        }
        catch (TimeoutException)
        {
            var reason = partialSince is null ? "idle_timeout" : "read_timeout";
            metrics.LinkRefusal(reason);
            LogTimedOut(remote, reason);
            throw;
        }
    }

    /// <summary>
    /// Before sign-on only an 0800 sign-on is processed: any other request is answered 91 (the issuer
    /// is not available on this connection) and a response from the peer is dropped. Returns the
    /// refusal to send, or null when the message may be processed.
    /// </summary>
    private Iso8583MessageBuilder? Admit(LinkConnection connection, Iso8583Message message, string remote)
    {
        var networkCode = message.Mti == MessageTypeIndicator.NetworkManagementRequest
            && message.TryGetString(Iso8583Fields.NetworkManagementCode, out var code) ? code : null;
        if (networkCode == Iso8583NetworkManagementCodes.SignOn)
        {
            connection.SignedOn = true;
            return null;
        }
        if (connection.SignedOn)
        {
            connection.SignedOn = networkCode != Iso8583NetworkManagementCodes.SignOff;
            return null;
        }
        metrics.LinkRefusal("not_signed_on");
        LogNotSignedOn(remote, message.Mti.ToString());
        return message.Mti.IsRequest ? CardProcessor.Respond(message, Iso8583ResponseCodes.IssuerUnavailable) : null;
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

    private async Task RespondAsync(LinkConnection connection, Iso8583Message request)
    {
        var started = Stopwatch.GetTimestamp();
        var mti = request.Mti.ToString();
        metrics.Message(mti);
        try
        {
            var response = await processor.HandleAsync(request, connection.Closing);
            if (response is not null)
            {
                await connection.SendAsync(response);
                metrics.Decision(mti, System.Text.Encoding.ASCII.GetString(response.GetField(Iso8583Fields.ResponseCode)), Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        }
        catch (LinkWriteTimeoutException error)
        {
            metrics.LinkRefusal("write_timeout");
            LogWriteTimedOut(mti, error.Message);
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException or OperationCanceledException
            || Cancellation.IsGivenUp(error, connection.Closing))
        {
            // The connection is gone or the link is stopping, and the calls made for the request were
            // cancelled with it: one line, no stack trace. The scheme repeats what it has no answer for.
            LogRequestAbandoned(mti, error.GetType().Name);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            // A bug or an unexpected failure: the scheme hears 96 and the link stays up.
            LogRequestFailed(error, mti);
            await TrySendAsync(connection, CardProcessor.Respond(request, Iso8583ResponseCodes.SystemMalfunction));
        }
        finally
        {
            connection.ReleaseSlot();
        }
    }

    private static async Task TrySendAsync(LinkConnection connection, Iso8583MessageBuilder response)
    {
        try
        {
            await connection.SendAsync(response);
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

    [LoggerMessage(EventId = 4014, Level = LogLevel.Information, Message = "Card link: request {Mti} abandoned: the connection closed or the link is stopping ({Error})")]
    private partial void LogRequestAbandoned(string mti, string error);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Error, Message = "Card link: request {Mti} failed; answered 96")]
    private partial void LogRequestFailed(Exception error, string mti);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "Card link: refused a connection from {Remote}: not in CardsOptions.LinkAllowedSources")]
    private partial void LogSourceNotAllowed(string remote);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "Card link: {Mti} from {Remote} before sign-on; not processed (answered 91 if a request)")]
    private partial void LogNotSignedOn(string remote, string mti);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "Card link: connection from {Remote} closed: {Reason}")]
    private partial void LogTimedOut(string remote, string reason);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Warning, Message = "Card link: closed a connection while answering {Mti}: {Reason}")]
    private partial void LogWriteTimedOut(string mti, string reason);
}
