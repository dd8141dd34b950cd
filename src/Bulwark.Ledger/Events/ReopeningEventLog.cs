using System.Runtime.CompilerServices;
using Bulwark.EventLog;
using Bulwark.EventLog.Files;
using Bulwark.EventLog.JetStream;

namespace Bulwark.Ledger.Events;

/// <summary>
/// An event log opened when first needed and opened again after it failed: the relay's view of a
/// log that may be locked by another writer, not yet reachable, or failed (a file log whose fsync
/// failed must be reopened to learn what is on disk). An open that fails is the append's failure
/// (<see cref="EventLogException"/>, e.g. <see cref="EventLogError.Locked"/>), so the relay counts
/// it and retries like any other; the ledger is never held up by it.
/// </summary>
public sealed class ReopeningEventLog(Func<CancellationToken, Task<IEventLog>> open) : IEventLog
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IEventLog? _log;
    private bool _disposed;

    /// <summary>A file log in <paramref name="options"/>' directory, opened when first needed.</summary>
    public static ReopeningEventLog File(FileEventLogOptions options, Microsoft.Extensions.Logging.ILogger<FileEventLog>? logger = null, EventLogMetrics? metrics = null) =>
        new(_ => Task.FromResult<IEventLog>(FileEventLog.Open(options, logger, metrics)));

    /// <summary>A JetStream log, connected when first needed.</summary>
    public static ReopeningEventLog JetStream(JetStreamEventLogOptions options, Microsoft.Extensions.Logging.ILogger<JetStreamEventLog>? logger = null, EventLogMetrics? metrics = null) =>
        new(async cancellationToken => await JetStreamEventLog.OpenAsync(options, logger, metrics, cancellationToken));

    public async Task<AppendResult> AppendAsync(IReadOnlyList<EventRecord> records, CancellationToken cancellationToken = default)
    {
        var log = await GetAsync(cancellationToken);
        try
        {
            return await log.AppendAsync(records, cancellationToken);
        }
        catch (EventLogException error) when (error.Error == EventLogError.Failed)
        {
            await ForgetAsync(log);
            throw;
        }
    }

    public async Task<long> GetLastSequenceAsync(int partition, CancellationToken cancellationToken = default) =>
        await (await GetAsync(cancellationToken)).GetLastSequenceAsync(partition, cancellationToken);

    public async IAsyncEnumerable<EventRecord> ReadAsync(int partition, long fromSequence = 1, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var log = await GetAsync(cancellationToken);
        await foreach (var record in log.ReadAsync(partition, fromSequence, cancellationToken))
        {
            yield return record;
        }
    }

    private async Task<IEventLog> GetAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _log) is { } current)
        {
            return current;
        }
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_log is null)
            {
                try
                {
                    _log = await open(cancellationToken);
                }
                catch (Exception error) when (error is not EventLogException and not OperationCanceledException)
                {
                    throw new EventLogException(EventLogError.Unavailable, $"The event log could not be opened: {error.Message}", innerException: error);
                }
            }
            return _log;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ForgetAsync(IEventLog log)
    {
        await _gate.WaitAsync();
        try
        {
            if (ReferenceEquals(_log, log))
            {
                _log = null;
            }
        }
        finally
        {
            _gate.Release();
        }
        await log.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            _disposed = true;
            if (_log is { } log)
            {
                _log = null;
                await log.DisposeAsync();
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
