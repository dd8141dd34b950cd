using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using Bulwark.Iso8583;

namespace Bulwark.Cards.Link;

/// <summary>
/// One scheme connection: its reader, a writer shared by concurrent answers, the in-flight slots,
/// whether the peer has signed on, and the token that closes it. Every read and every write is
/// bounded in time, so a peer that goes quiet or stops reading cannot hold the connection, its
/// slots or the link's shutdown.
/// </summary>
internal sealed class LinkConnection : IDisposable
{
    /// <summary>The longest a closing connection waits for its requests in flight to answer, in total.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);

    private readonly Stream _stream;
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly int _inFlightMax;
    private readonly TimeSpan _writeTimeout;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _closing;

    public LinkConnection(Stream stream, int inFlightMax, TimeSpan writeTimeout, TimeProvider time, CancellationToken stoppingToken)
    {
        _stream = stream;
        _inFlightMax = inFlightMax;
        _slots = new SemaphoreSlim(inFlightMax, inFlightMax);
        _writeTimeout = writeTimeout;
        _time = time;
        _closing = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        Reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
    }

    public PipeReader Reader { get; }

    /// <summary>Cancelled when the link stops or this connection is being closed.</summary>
    public CancellationToken Closing => _closing.Token;

    /// <summary>Set by an accepted 0800 sign-on, cleared by a sign-off. Only the read loop touches it.</summary>
    public bool SignedOn { get; set; }

    /// <summary>Reads more bytes, or throws <see cref="TimeoutException"/> when none arrive within <paramref name="timeout"/>.</summary>
    public async ValueTask<ReadResult> ReadAsync(TimeSpan timeout)
    {
        using var timer = new CancellationTokenSource(timeout > TimeSpan.Zero ? timeout : TimeSpan.Zero, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token, timer.Token);
        try
        {
            return await Reader.ReadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (timer.IsCancellationRequested && !_closing.IsCancellationRequested)
        {
            throw new TimeoutException();
        }
    }

    public Task AcquireSlotAsync() => _slots.WaitAsync(_closing.Token);

    public void ReleaseSlot() => _slots.Release();

    /// <summary>
    /// Writes one frame; frames from concurrent answers never interleave. A write that does not
    /// finish within the write timeout closes the connection and throws <see cref="LinkWriteTimeoutException"/>.
    /// </summary>
    public async Task SendAsync(Iso8583MessageBuilder response)
    {
        var frame = new ArrayBufferWriter<byte>(256);
        response.WriteFrameTo(frame);
        await _writeLock.WaitAsync(_closing.Token);
        try
        {
            using var timer = new CancellationTokenSource(_writeTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token, timer.Token);
            try
            {
                await _stream.WriteAsync(frame.WrittenMemory, linked.Token);
            }
            catch (OperationCanceledException) when (timer.IsCancellationRequested && !_closing.IsCancellationRequested)
            {
                // The socket is unusable after a cancelled write, and the peer is not reading anyway.
                Close();
                throw new LinkWriteTimeoutException(string.Create(CultureInfo.InvariantCulture,
                    $"writing an answer took longer than {_writeTimeout.TotalSeconds:0.###} s: the peer stopped reading"));
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Stops reading and cancels every answer still being decided or written.</summary>
    public void Close()
    {
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already closed and disposed.
        }
    }

    /// <summary>Waits until every request in flight has answered, at most <see cref="DrainTimeout"/> in total.</summary>
    public async Task DrainAsync()
    {
        var deadline = _time.GetTimestamp() + (long)(DrainTimeout.TotalSeconds * _time.TimestampFrequency);
        for (var taken = 0; taken < _inFlightMax; taken++)
        {
            var remaining = TimeSpan.FromSeconds((double)(deadline - _time.GetTimestamp()) / _time.TimestampFrequency);
            if (remaining <= TimeSpan.Zero || !await _slots.WaitAsync(remaining))
            {
                return;
            }
        }
    }

    public void Dispose() => _closing.Dispose();
}

/// <summary>An answer could not be written within the write timeout; the connection has been closed.</summary>
internal sealed class LinkWriteTimeoutException(string message) : IOException(message);
