using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Placement;

/// <summary>
/// Confirms a cell's birth record (<see cref="ICellBirths.ConfirmAsync"/>) and, when the record's
/// store does not answer, keeps trying in the background until it does. A birth claimed and never
/// confirmed lets the next new store of the cell be its first: while it stays unconfirmed, a store
/// lost and made again would take the cell's partitions empty. Trying again only at the next start
/// left that window open for as long as the process ran (a cell born while etcd stalled, then
/// serving for weeks). Each attempt is bounded; the retries back off to
/// <see cref="CellBirthConfirmerOptions.RetryDelayMax"/> and stop by themselves after
/// <see cref="CellBirthConfirmerOptions.AttemptsMax"/> attempts (then the next start tries again,
/// and an error says so), or when the process stops.
/// </summary>
public sealed partial class CellBirthConfirmer(ICellBirths births, ILogger logger, CellBirthConfirmerOptions? options = null) : IAsyncDisposable
{
    private readonly CellBirthConfirmerOptions _options = options ?? new CellBirthConfirmerOptions();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Task> _retrying = new(StringComparer.Ordinal);

    /// <summary>
    /// Confirms <paramref name="cell"/>'s birth once, bounded by <see cref="CellBirthConfirmerOptions.AttemptTimeout"/>;
    /// when that fails, returns at once and goes on trying in the background. Never throws for the
    /// record's store (only when <paramref name="cancellationToken"/> is cancelled).
    /// </summary>
    public async Task ConfirmAsync(string cell, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(cell);
        var problem = await TryOnceAsync(cell, cancellationToken).ConfigureAwait(false);
        if (problem is null)
        {
            return;
        }
        LogNotConfirmed(cell, problem);
        lock (_lock)
        {
            if (_stopping.IsCancellationRequested || (_retrying.TryGetValue(cell, out var running) && !running.IsCompleted))
            {
                return;
            }
            _retrying[cell] = Task.Run(() => RetryAsync(cell, _stopping.Token), CancellationToken.None);
        }
    }

    /// <summary>The background retries of <paramref name="cell"/>'s confirmation (completed when none run), for tests and shutdown.</summary>
    public Task RetryingOf(string cell)
    {
        lock (_lock)
        {
            return _retrying.GetValueOrDefault(cell) ?? Task.CompletedTask;
        }
    }

    private async Task RetryAsync(string cell, CancellationToken stopping)
    {
        var delay = _options.FirstRetryDelay;
        for (var attempt = 2; attempt <= _options.AttemptsMax; attempt++)
        {
            try
            {
                await Task.Delay(delay, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            string? problem;
            try
            {
                problem = await TryOnceAsync(cell, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            if (problem is null)
            {
                LogConfirmedLater(cell, attempt);
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.RetryDelayMax.Ticks));
        }
        LogGaveUp(cell, _options.AttemptsMax);
    }

    /// <summary>One bounded attempt: null when confirmed, else why not.</summary>
    private async Task<string?> TryOnceAsync(string cell, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(_options.AttemptTimeout);
        try
        {
            await births.ConfirmAsync(cell, bound.Token).ConfigureAwait(false);
            return null;
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested)
        {
            return error is OperationCanceledException ? $"no answer within {_options.AttemptTimeout.TotalSeconds:0.#} s" : error.Message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task[] running;
        lock (_lock)
        {
            _stopping.Cancel();
            running = [.. _retrying.Values];
        }
        await Task.WhenAll(running).ConfigureAwait(false);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 4422, Level = LogLevel.Warning, Message = "Cell {Cell}'s birth could not be confirmed ({Reason}); trying again in the background (until then a store of the cell made again would be taken for its first)")]
    private partial void LogNotConfirmed(string cell, string reason);

    [LoggerMessage(EventId = 4423, Level = LogLevel.Information, Message = "Cell {Cell}'s birth confirmed at attempt {Attempt}")]
    private partial void LogConfirmedLater(string cell, int attempt);

    [LoggerMessage(EventId = 4424, Level = LogLevel.Error, Message = "Cell {Cell}'s birth is still not confirmed after {Attempts} attempts; the process's next start tries again. Until then a store of the cell made again would be taken for its first: check that the birth records' store answers (docs/runbooks/ledger-replay.md)")]
    private partial void LogGaveUp(string cell, int attempts);
}

/// <summary>How <see cref="CellBirthConfirmer"/> tries.</summary>
public sealed record CellBirthConfirmerOptions
{
    /// <summary>The bound on one attempt (a hung etcd answers nothing).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The wait before the first retry; doubled after each failed one.</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between retries.</summary>
    public TimeSpan RetryDelayMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts in all (the first included) before the background gives up: about two and a half hours at the longest wait.</summary>
    public int AttemptsMax { get; init; } = 300;
}
