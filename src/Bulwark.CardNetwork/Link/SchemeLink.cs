using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using Bulwark.Iso8583;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.CardNetwork.Link;

/// <summary>
/// The scheme's side of the ISO 8583 link to one issuer: connects, signs on (0800/001), echoes
/// (0800/301) on a timer, reconnects with backoff, and carries many requests at once on one
/// connection, matching answers by response MTI, STAN (11) and RRN (37). Every request has the
/// same deadline, so deadlines expire in send order and one queue finds them.
/// </summary>
public sealed partial class SchemeLink : IAsyncDisposable
{
    private static readonly int[] ResponseMtis = [110, 130, 410, 430, 810];

    private readonly SchemeLinkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<PendingKey, PendingRequest> _pending = new();
    private readonly ConcurrentQueue<PendingRequest> _deadlines = new();
    private readonly TimedOutKeys _timedOut = new(CardNetworkLimits.TimedOutKeysRememberedMax);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _stateLock = new();
    private readonly long _deadlineTicks;
    private TaskCompletionSource _signedOn = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Connection? _connection;
    private Task? _connectionLoop;
    private Task? _deadlineLoop;
    private int _stan;
    private int _inFlight;
    private int _disposed;

    private long _connects;
    private long _connectFailures;
    private long _signOns;
    private long _signOnFailures;
    private long _disconnects;
    private long _messagesSent;
    private long _responsesMatched;
    private long _timedOutCount;
    private long _lateResponses;
    private long _unknownResponses;
    private long _wrongMtiResponses;
    private long _malformedMessages;
    private long _framingErrors;
    private long _unexpectedRequests;
    private long _issuerNetworkRequestsAnswered;
    private long _echoesSent;
    private long _echoMisses;
    private long _overloadRejections;
    private long _linkDowns;
    private long _hungConnections;
    private int _timeoutsInARow;

    /// <summary>Creates a link; <see cref="Start"/> connects it.</summary>
    public SchemeLink(SchemeLinkOptions options, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _deadlineTicks = (long)(options.ResponseDeadline.TotalSeconds * _time.TimestampFrequency);
        _stan = Random.Shared.Next(0, 999_999);
    }

    /// <summary>Whether the link is signed on and requests can be sent.</summary>
    public bool IsSignedOn => Volatile.Read(ref _connection) is { SignedOn: true };

    /// <summary>Requests sent and not yet answered, timed out or lost.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The options the link runs with.</summary>
    public SchemeLinkOptions Options => _options;

    /// <summary>The issuer endpoint as <c>host:port</c> (<see cref="IssuerLinkAddresses.Format"/>).</summary>
    public string Name => IssuerLinkAddresses.Format(_options.IssuerEndPoint);

    /// <summary>Starts connecting in the background; reconnects until disposed.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_stateLock)
        {
            if (_connectionLoop is not null)
            {
                throw new InvalidOperationException("The link is already started.");
            }

            _deadlineLoop = Task.Run(() => ExpireDeadlinesAsync(_stopping.Token));
            _connectionLoop = Task.Run(() => ConnectLoopAsync(_stopping.Token));
        }
    }

    /// <summary>Completes when the link is signed on (at once if it already is).</summary>
    public Task WaitForSignOnAsync(CancellationToken cancellationToken = default)
    {
        Task signedOn;
        lock (_stateLock)
        {
            signedOn = _signedOn.Task;
        }

        return signedOn.WaitAsync(cancellationToken);
    }

    /// <summary>The next systems trace audit number (field 11): 1-999999, wrapping.</summary>
    public int NextSystemsTraceAuditNumber()
    {
        while (true)
        {
            var current = Volatile.Read(ref _stan);
            var next = current >= 999_999 ? 1 : current + 1;
            if (Interlocked.CompareExchange(ref _stan, next, current) == current)
            {
                return next;
            }
        }
    }

    /// <summary>A snapshot of the link's counters.</summary>
    public SchemeLinkStatistics GetStatistics() => new()
    {
        Connects = Interlocked.Read(ref _connects),
        ConnectFailures = Interlocked.Read(ref _connectFailures),
        SignOns = Interlocked.Read(ref _signOns),
        SignOnFailures = Interlocked.Read(ref _signOnFailures),
        Disconnects = Interlocked.Read(ref _disconnects),
        MessagesSent = Interlocked.Read(ref _messagesSent),
        ResponsesMatched = Interlocked.Read(ref _responsesMatched),
        TimedOut = Interlocked.Read(ref _timedOutCount),
        LateResponses = Interlocked.Read(ref _lateResponses),
        UnknownResponses = Interlocked.Read(ref _unknownResponses),
        WrongMtiResponses = Interlocked.Read(ref _wrongMtiResponses),
        MalformedMessages = Interlocked.Read(ref _malformedMessages),
        FramingErrors = Interlocked.Read(ref _framingErrors),
        UnexpectedRequests = Interlocked.Read(ref _unexpectedRequests),
        IssuerNetworkRequestsAnswered = Interlocked.Read(ref _issuerNetworkRequestsAnswered),
        EchoesSent = Interlocked.Read(ref _echoesSent),
        EchoMisses = Interlocked.Read(ref _echoMisses),
        OverloadRejections = Interlocked.Read(ref _overloadRejections),
        LinkDowns = Interlocked.Read(ref _linkDowns),
        HungConnections = Interlocked.Read(ref _hungConnections),
    };

    /// <summary>
    /// Sends a request (0100, 0120, 0400, 0420 or 0800) and waits for its answer or its deadline.
    /// The request must have field 11 and, except 0800, field 37. The builder is encoded before
    /// this method returns, so the caller may reuse it at once.
    /// </summary>
    /// <exception cref="ArgumentException">The builder holds a response or lacks field 11 or 37.</exception>
    public Task<LinkResponse> SendAsync(Iso8583MessageBuilder request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var connection = Volatile.Read(ref _connection);
        if (connection is not { SignedOn: true })
        {
            return Task.FromResult(new LinkResponse(LinkOutcome.NotSignedOn, null));
        }

        return SendOn(connection, request);
    }

    /// <summary>Sends an echo (0800/301) and waits for its answer.</summary>
    public Task<LinkResponse> EchoAsync() => SendAsync(NetworkManagement(Iso8583NetworkManagementCodes.EchoTest));

    /// <summary>Signs off if signed on, closes the connection and fails whatever is still in flight.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _connection) is { SignedOn: true } connection)
        {
            // Best effort, briefly: the issuer learns the scheme left on purpose.
            var signOff = SendOn(connection, NetworkManagement(Iso8583NetworkManagementCodes.SignOff));
            await Task.WhenAny(signOff, Task.Delay(TimeSpan.FromMilliseconds(500), _time)).ConfigureAwait(false);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        Volatile.Read(ref _connection)?.Close();
        foreach (var task in new[] { _connectionLoop, _deadlineLoop })
        {
            if (task is not null)
            {
                await task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        FailPending(connection: null, LinkOutcome.ConnectionLost);
        _stopping.Dispose();
    }

    private Iso8583MessageBuilder NetworkManagement(string code) =>
        new Iso8583MessageBuilder(MessageTypeIndicator.NetworkManagementRequest)
            .Set(Iso8583Fields.TransmissionDateTime, _time.GetUtcNow().UtcDateTime)
            .Set(Iso8583Fields.SystemsTraceAuditNumber, NextSystemsTraceAuditNumber())
            .Set(Iso8583Fields.NetworkManagementCode, code);

    private Task<LinkResponse> SendOn(Connection connection, Iso8583MessageBuilder request)
    {
        var key = KeyOf(request);
        if (Interlocked.Increment(ref _inFlight) > _options.InFlightMax)
        {
            Interlocked.Decrement(ref _inFlight);
            Interlocked.Increment(ref _overloadRejections);
            return Task.FromResult(new LinkResponse(LinkOutcome.Overloaded, null));
        }

        var pending = new PendingRequest(key, connection, _time.GetTimestamp() + _deadlineTicks);
        if (!_pending.TryAdd(key, pending))
        {
            // The same STAN and RRN are already waiting for the same answer: a caller bug.
            Interlocked.Decrement(ref _inFlight);
            throw new ArgumentException($"A request with response MTI {key.ResponseMti:D4}, STAN {key.SystemsTraceAuditNumber} and RRN '{key.RetrievalReferenceNumber}' is already in flight.", nameof(request));
        }

        _deadlines.Enqueue(pending);
        var frame = new byte[Iso8583Limits.FrameHeaderBytes + request.GetEncodedLength()];
        request.WriteFrameTo(frame);
        if (!connection.TryWrite(frame))
        {
            // The connection closed after the caller saw it signed on; its pending requests may
            // already have been failed, so this one is removed here.
            _pending.TryRemove(new KeyValuePair<PendingKey, PendingRequest>(key, pending));
            Complete(pending, new LinkResponse(LinkOutcome.ConnectionLost, null));
        }
        else
        {
            Interlocked.Increment(ref _messagesSent);
        }

        return pending.Completion.Task;
    }

    private static PendingKey KeyOf(Iso8583MessageBuilder request)
    {
        if (!request.Mti.IsRequest)
        {
            throw new ArgumentException($"{request.Mti} is not a request.", nameof(request));
        }

        if (!request.Has(Iso8583Fields.SystemsTraceAuditNumber))
        {
            throw new ArgumentException("The request has no STAN (field 11).", nameof(request));
        }

        var stan = ParseDigits(request.GetField(Iso8583Fields.SystemsTraceAuditNumber));
        var rrn = request.Has(Iso8583Fields.RetrievalReferenceNumber)
            ? System.Text.Encoding.ASCII.GetString(request.GetField(Iso8583Fields.RetrievalReferenceNumber))
            : string.Empty;
        if (rrn.Length == 0 && request.Mti != MessageTypeIndicator.NetworkManagementRequest)
        {
            throw new ArgumentException($"A {request.Mti} needs an RRN (field 37).", nameof(request));
        }

        return new PendingKey(request.Mti.ToResponse().Value, stan, rrn);
    }

    private static int ParseDigits(ReadOnlySpan<byte> digits)
    {
        var value = 0;
        foreach (var digit in digits)
        {
            value = (value * 10) + (digit - '0');
        }

        return value;
    }

    private void Complete(PendingRequest pending, LinkResponse response)
    {
        if (pending.Completion.TrySetResult(response))
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private void FailPending(Connection? connection, LinkOutcome outcome)
    {
        foreach (var entry in _pending)
        {
            if ((connection is null || entry.Value.Connection == connection) && _pending.TryRemove(entry))
            {
                Complete(entry.Value, new LinkResponse(outcome, null));
            }
        }
    }

    private async Task ExpireDeadlinesAsync(CancellationToken cancellationToken)
    {
        var idle = TimeSpan.FromMilliseconds(20);
        while (!cancellationToken.IsCancellationRequested)
        {
            var wait = idle;
            while (_deadlines.TryPeek(out var head))
            {
                if (head.Completion.Task.IsCompleted)
                {
                    _deadlines.TryDequeue(out _);
                    continue;
                }

                var remaining = head.Deadline - _time.GetTimestamp();
                if (remaining > 0)
                {
                    wait = TimeSpan.FromSeconds(Math.Min((double)remaining / _time.TimestampFrequency, idle.TotalSeconds));
                    break;
                }

                _deadlines.TryDequeue(out _);
                if (_pending.TryRemove(new KeyValuePair<PendingKey, PendingRequest>(head.Key, head)))
                {
                    _timedOut.Add(head.Key);
                    Interlocked.Increment(ref _timedOutCount);
                    Complete(head, new LinkResponse(LinkOutcome.TimedOut, null));
                    CountTimeoutInARow(head.Connection);
                }
            }

            try
            {
                await Task.Delay(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// An issuer that accepts and then answers nothing (a hung process, a wedged connection) would
    /// otherwise keep the link "signed on" until two echoes went unanswered, minutes with the
    /// default interval. After <see cref="SchemeLinkOptions.TimeoutsInARowMax"/> requests in a row
    /// time out with no answer between them, the connection is closed and re-established; a
    /// re-sign-on that is not answered then keeps the link down, with backoff, until the issuer answers.
    /// </summary>
    private void CountTimeoutInARow(Connection connection)
    {
        if (_options.TimeoutsInARowMax <= 0 || Interlocked.Increment(ref _timeoutsInARow) < _options.TimeoutsInARowMax)
        {
            return;
        }

        Volatile.Write(ref _timeoutsInARow, 0);
        if (connection.SignedOn && Volatile.Read(ref _connection) == connection)
        {
            Interlocked.Increment(ref _hungConnections);
            LogHung(Name, _options.TimeoutsInARowMax);
            connection.Close();
        }
    }

    private sealed class PendingRequest(PendingKey key, Connection connection, long deadline)
    {
        public PendingKey Key { get; } = key;

        public Connection Connection { get; } = connection;

        public long Deadline { get; } = deadline;

        public TaskCompletionSource<LinkResponse> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>A bounded memory of timed-out keys: oldest forgotten first.</summary>
    private sealed class TimedOutKeys(int capacity)
    {
        private readonly Lock _lock = new();
        private readonly HashSet<PendingKey> _keys = [];
        private readonly Queue<PendingKey> _order = new();

        public void Add(PendingKey key)
        {
            lock (_lock)
            {
                if (!_keys.Add(key))
                {
                    return;
                }

                _order.Enqueue(key);
                if (_order.Count > capacity)
                {
                    _keys.Remove(_order.Dequeue());
                }
            }
        }

        public bool Remove(PendingKey key)
        {
            lock (_lock)
            {
                return _keys.Remove(key);
            }
        }
    }
}
