using Bulwark.Coherence.Telemetry;
using Bulwark.Platform.Placement;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Coherence.Checking;

/// <summary>
/// The loop: every <see cref="CoherenceOptions.Interval"/>, one round in which every cell of the
/// current placement map is checked at once, each within its own budget (a cell that is down or
/// slow ends in its own error or timeout outcomes and delays nobody else), then the bank-wide checks.
/// Every outcome is counted and kept for status. Rounds never overlap.
/// </summary>
public sealed partial class CoherenceChecker : BackgroundService
{
    private readonly PlacementView _view;
    private readonly CellCheck _cells;
    private readonly IReadOnlyList<IBankWideCheck> _bankWide;
    private readonly CoherenceStatus _status;
    private readonly CoherenceMetrics _metrics;
    private readonly CoherenceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CoherenceChecker> _logger;
    private readonly SemaphoreSlim _oneRound = new(1, 1);
    private long _round;

    internal CoherenceChecker(PlacementView view, CellCheck cells, IEnumerable<IBankWideCheck> bankWide, CoherenceStatus status, CoherenceMetrics metrics,
        CoherenceOptions options, TimeProvider time, ILogger<CoherenceChecker> logger)
    {
        _view = view;
        _cells = cells;
        _bankWide = [.. bankWide];
        _status = status;
        _metrics = metrics;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Runs one round now (the loop's rounds and this one never overlap) and returns its outcomes:
    /// empty while this process has no placement map.
    /// </summary>
    public async Task<IReadOnlyList<CheckOutcome>> RunRoundAsync(CancellationToken cancellationToken)
    {
        await _oneRound.WaitAsync(cancellationToken);
        try
        {
            if (_view.Current is not { } map)
            {
                LogNoMap(_logger);
                return [];
            }
            var round = _round++;
            var cells = map.Cells.Keys.Order(StringComparer.Ordinal).Take(CoherenceLimits.CellsInParallelMax).ToList();
            var perCell = await Task.WhenAll(cells.Select(cell => WithinBudgetAsync(cell, budget => _cells.RunAsync(cell, map, round, budget), cancellationToken)));
            var bankWide = await Task.WhenAll(_bankWide.Select(check => WithinBudgetAsync(check.GetType().Name, check.RunAsync, cancellationToken)));
            // Stopped mid-round: the calls cut by the stop are not the cells' timeouts, and are not counted.
            cancellationToken.ThrowIfCancellationRequested();
            List<CheckOutcome> outcomes = [.. perCell.SelectMany(outcome => outcome), .. bankWide.SelectMany(outcome => outcome)];
            foreach (var outcome in outcomes)
            {
                _metrics.RecordCheck(outcome.Check, outcome.Result, outcome.Cell);
                _status.Record(outcome);
            }
            _metrics.RecordRound();
            _status.RecordRound();
            return outcomes;
        }
        finally
        {
            _oneRound.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(_logger, _options.Interval.TotalSeconds, _options.CellBudget.TotalMilliseconds);
        using var timer = new PeriodicTimer(_options.Interval, _time);
        try
        {
            // The first round one interval after the start: the host's services (in the one-process
            // bank, the cells themselves) register only once every hosted service has started.
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await RunRoundAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host stops: the round in progress is abandoned, its outcomes uncounted.
        }
    }

    public override void Dispose()
    {
        _oneRound.Dispose();
        base.Dispose();
    }

    /// <summary>
    /// One cell's (or bank-wide check's) part of a round, within its budget. An exception that
    /// escapes it is a bug in a check, not the cell's failure: it is logged and counted as the
    /// <see cref="CoherenceCheck.Round"/> error of that cell, and the other cells and the next
    /// rounds go on — the checker must never stop asking.
    /// </summary>
    private async Task<IReadOnlyList<CheckOutcome>> WithinBudgetAsync(string cell, Func<CancellationToken, Task<IReadOnlyList<CheckOutcome>>> run, CancellationToken cancellationToken)
    {
        using var budget = new CancellationTokenSource(_options.CellBudget, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(budget.Token, cancellationToken);
        try
        {
            return await run(linked.Token);
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested)
        {
            LogRoundFailed(_logger, cell, error);
            return [new CheckOutcome(cell, CoherenceCheck.Round, CoherenceResult.Error, -1, UInt128.Zero, UInt128.Zero, error.Message, _time.GetUtcNow())];
        }
    }

    [LoggerMessage(EventId = 9110, Level = LogLevel.Information, Message = "Coherence checker started: a round every {IntervalSeconds} s, {BudgetMilliseconds} ms per cell")]
    private static partial void LogStarted(ILogger logger, double intervalSeconds, double budgetMilliseconds);

    [LoggerMessage(EventId = 9112, Level = LogLevel.Error, Message = "Coherence round of {Cell} failed unexpectedly; the checker goes on")]
    private static partial void LogRoundFailed(ILogger logger, string cell, Exception error);

    [LoggerMessage(EventId = 9111, Level = LogLevel.Warning, Message = "Coherence round skipped: this process has no placement map yet")]
    private static partial void LogNoMap(ILogger logger);
}
