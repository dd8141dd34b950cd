using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using Bulwark.Iso8583;
using Microsoft.Extensions.Logging;

namespace Bulwark.CardNetwork.Link;

/// <summary>Connecting, signing on, echoing, reading and writing.</summary>
public sealed partial class SchemeLink
{
    private const int FlushBytesMax = 64 * 1024;

    private async Task ConnectLoopAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var signedOn = await RunOneConnectionAsync(cancellationToken).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            failures = signedOn ? 0 : failures + 1;
            try
            {
                await Task.Delay(ReconnectDelay(failures), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private TimeSpan ReconnectDelay(int failures)
    {
        // Doubling from the minimum, capped, with +-20% jitter so many schemes do not reconnect in step.
        var exponent = Math.Min(failures, 16);
        var delay = Math.Min(_options.ReconnectDelayMin.TotalMilliseconds * Math.Pow(2, exponent), _options.ReconnectDelayMax.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(delay * (0.8 + (Random.Shared.NextDouble() * 0.4)));
    }

    /// <summary>Connects, signs on and stays until the connection ends; returns whether it signed on.</summary>
    private async Task<bool> RunOneConnectionAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectTimeout.CancelAfter(_options.ConnectTimeout);
            await socket.ConnectAsync(_options.IssuerEndPoint, connectTimeout.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (error is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            if (!cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _connectFailures);
                LogConnectFailed(_options.IssuerEndPoint.ToString() ?? "?", error.Message);
            }

            return false;
        }

        Interlocked.Increment(ref _connects);
        var connection = new Connection(socket);
        Volatile.Write(ref _connection, connection);
        connection.Start(ReadLoopAsync(connection));
        var signedOn = false;
        try
        {
            signedOn = await SignOnAsync(connection).ConfigureAwait(false);
            if (signedOn)
            {
                await EchoWhileConnectedAsync(connection, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await EndConnectionAsync(connection).ConfigureAwait(false);
        }

        return signedOn;
    }

    private async Task<bool> SignOnAsync(Connection connection)
    {
        var response = await SendOn(connection, NetworkManagement(Iso8583NetworkManagementCodes.SignOn)).ConfigureAwait(false);
        if (response is { Outcome: LinkOutcome.Answered, Message: { } message } && message.FieldEquals(Iso8583Fields.ResponseCode, "00"u8))
        {
            connection.SignedOn = true;
            Volatile.Write(ref _timeoutsInARow, 0);
            Interlocked.Increment(ref _signOns);
            lock (_stateLock)
            {
                _signedOn.TrySetResult();
            }

            LogSignedOn(_options.IssuerEndPoint.ToString() ?? "?");
            return true;
        }

        Interlocked.Increment(ref _signOnFailures);
        var code = response.Message?.TryGetString(Iso8583Fields.ResponseCode, out var value) == true ? value : "none";
        LogSignOnFailed(Name, response.Outcome, code);
        return false;
    }

    private async Task EchoWhileConnectedAsync(Connection connection, CancellationToken cancellationToken)
    {
        var misses = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var tick = Task.Delay(_options.EchoInterval, _time, cancellationToken);
            if (await Task.WhenAny(tick, connection.Completion).ConfigureAwait(false) != tick || tick.IsCanceled)
            {
                return;
            }

            Interlocked.Increment(ref _echoesSent);
            var response = await SendOn(connection, NetworkManagement(Iso8583NetworkManagementCodes.EchoTest)).ConfigureAwait(false);
            switch (response.Outcome)
            {
                case LinkOutcome.Answered:
                    misses = 0;
                    break;
                case LinkOutcome.TimedOut:
                    Interlocked.Increment(ref _echoMisses);
                    if (++misses >= _options.EchoMissesMax)
                    {
                        LogEchoMissed(misses);
                        return;
                    }

                    break;
                default:
                    return;
            }
        }
    }

    private async Task EndConnectionAsync(Connection connection)
    {
        if (connection.SignedOn)
        {
            Interlocked.Increment(ref _linkDowns);
        }

        connection.SignedOn = false;
        lock (_stateLock)
        {
            Interlocked.CompareExchange(ref _connection, null, connection);
            if (_signedOn.Task.IsCompleted)
            {
                _signedOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        connection.Close();
        await connection.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        FailPending(connection, LinkOutcome.ConnectionLost);
        Interlocked.Increment(ref _disconnects);
        LogDisconnected(Name);
    }

    private async Task ReadLoopAsync(Connection connection)
    {
        var reader = PipeReader.Create(connection.Stream, new StreamPipeReaderOptions(leaveOpen: true));
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var framingLost = ReadFrames(connection, ref buffer);
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (framingLost || result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection ended; the connect loop reconnects.
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            connection.Close();
        }
    }

    /// <summary>Handles every whole frame in the buffer; returns true when the framing is lost.</summary>
    private bool ReadFrames(Connection connection, ref ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            var status = Iso8583Framing.TryReadFrame(ref buffer, out var frame, out var error, _options.MessageBytesMax);
            if (status == Iso8583FrameStatus.NeedMoreData)
            {
                return false;
            }

            if (status == Iso8583FrameStatus.Error)
            {
                // The byte stream can no longer be cut into messages: only a new connection helps.
                Interlocked.Increment(ref _framingErrors);
                LogFramingError(error?.Message ?? "unknown");
                return true;
            }

            Dispatch(connection, frame);
        }
    }

    private void Dispatch(Connection connection, ReadOnlySequence<byte> frame)
    {
        Iso8583Message message;
        try
        {
            message = Iso8583Message.Parse(frame);
        }
        catch (Iso8583FormatException error)
        {
            Interlocked.Increment(ref _malformedMessages);
            LogMalformed(error.Message);
            return;
        }

        if (message.Mti.IsRequest)
        {
            AnswerIssuerRequest(connection, message);
            return;
        }

        if (!message.TryGetInt64(Iso8583Fields.SystemsTraceAuditNumber, out var stan))
        {
            Interlocked.Increment(ref _malformedMessages);
            LogMalformed($"{message.Mti} without a STAN (field 11)");
            return;
        }

        var rrn = message.TryGetString(Iso8583Fields.RetrievalReferenceNumber, out var text) ? text : string.Empty;
        var key = new PendingKey(message.Mti.Value, (int)stan, rrn);
        if (_pending.TryRemove(key, out var pending))
        {
            Volatile.Write(ref _timeoutsInARow, 0);
            Interlocked.Increment(ref _responsesMatched);
            Complete(pending, new LinkResponse(LinkOutcome.Answered, message));
            return;
        }

        CountUnmatched(key);
    }

    private void CountUnmatched(PendingKey key)
    {
        if (_timedOut.Remove(key))
        {
            Interlocked.Increment(ref _lateResponses);
            return;
        }

        foreach (var mti in ResponseMtis)
        {
            if (mti != key.ResponseMti && _pending.ContainsKey(key with { ResponseMti = mti }))
            {
                Interlocked.Increment(ref _wrongMtiResponses);
                LogWrongMti(key.ResponseMti, key.SystemsTraceAuditNumber, mti);
                return;
            }
        }

        Interlocked.Increment(ref _unknownResponses);
        LogUnknownResponse(key.ResponseMti, key.SystemsTraceAuditNumber, key.RetrievalReferenceNumber);
    }

    private void AnswerIssuerRequest(Connection connection, Iso8583Message request)
    {
        if (request.Mti != MessageTypeIndicator.NetworkManagementRequest)
        {
            Interlocked.Increment(ref _unexpectedRequests);
            LogUnexpectedRequest(request.Mti.ToString());
            return;
        }

        // The issuer may echo or sign on from its side too: answer like any peer would.
        var response = Iso8583MessageBuilder.CreateResponse(request).Set(Iso8583Fields.ResponseCode, Iso8583ResponseCodes.Approved);
        var frame = new byte[Iso8583Limits.FrameHeaderBytes + response.GetEncodedLength()];
        response.WriteFrameTo(frame);
        if (connection.TryWrite(frame))
        {
            Interlocked.Increment(ref _messagesSent);
            Interlocked.Increment(ref _issuerNetworkRequestsAnswered);
        }
    }

    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "Card link signed on to the issuer at {EndPoint}")]
    private partial void LogSignedOn(string endPoint);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Card link could not connect to {EndPoint}: {Reason}")]
    private partial void LogConnectFailed(string endPoint, string reason);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "Card link sign-on to {EndPoint} failed: {Outcome}, response code {ResponseCode}")]
    private partial void LogSignOnFailed(string endPoint, LinkOutcome outcome, string responseCode);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Card link: {Misses} echoes unanswered; reconnecting")]
    private partial void LogEchoMissed(int misses);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Information, Message = "Card link to {EndPoint} disconnected")]
    private partial void LogDisconnected(string endPoint);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Warning, Message = "Card link framing lost, reconnecting: {Reason}")]
    private partial void LogFramingError(string reason);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Warning, Message = "Card link dropped a malformed message: {Reason}")]
    private partial void LogMalformed(string reason);

    [LoggerMessage(EventId = 5107, Level = LogLevel.Warning, Message = "Card link dropped a {Mti:D4} for STAN {Stan}: that request waits for a {ExpectedMti:D4}")]
    private partial void LogWrongMti(int mti, int stan, int expectedMti);

    [LoggerMessage(EventId = 5108, Level = LogLevel.Warning, Message = "Card link dropped a {Mti:D4} for unknown STAN {Stan} RRN '{Rrn}'")]
    private partial void LogUnknownResponse(int mti, int stan, string rrn);

    [LoggerMessage(EventId = 5109, Level = LogLevel.Warning, Message = "Card link dropped an unexpected {Mti} request from the issuer")]
    private partial void LogUnexpectedRequest(string mti);

    [LoggerMessage(EventId = 5110, Level = LogLevel.Warning, Message = "Card link to {EndPoint}: {Count} requests in a row unanswered; the issuer is taken as hung, reconnecting")]
    private partial void LogHung(string endPoint, int count);

    /// <summary>One TCP connection: a writer loop fed by a channel, and the link's reader loop.</summary>
    private sealed class Connection
    {
        private readonly Socket _socket;
        private readonly Channel<byte[]> _outbound = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
        private int _closed;

        public Connection(Socket socket)
        {
            _socket = socket;
            Stream = new NetworkStream(socket, ownsSocket: false);
        }

        public NetworkStream Stream { get; }

        public volatile bool SignedOn;

        public Task Completion { get; private set; } = Task.CompletedTask;

        public void Start(Task reader) => Completion = Task.WhenAll(reader, Task.Run(WriteLoopAsync));

        public bool TryWrite(byte[] frame) => _outbound.Writer.TryWrite(frame);

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            _outbound.Writer.TryComplete();
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already gone.
            }

            _socket.Dispose();
        }

        private async Task WriteLoopAsync()
        {
            var writer = PipeWriter.Create(Stream, new StreamPipeWriterOptions(leaveOpen: true));
            try
            {
                while (await _outbound.Reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    while (_outbound.Reader.TryRead(out var frame))
                    {
                        writer.Write(frame);
                        if (writer.UnflushedBytes >= FlushBytesMax)
                        {
                            await writer.FlushAsync().ConfigureAwait(false);
                        }
                    }

                    await writer.FlushAsync().ConfigureAwait(false);
                }
            }
            catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection broke; the reader sees it too.
            }
            finally
            {
                Close();
                await writer.CompleteAsync().ConfigureAwait(false);
            }
        }
    }
}
