using System.Collections.Concurrent;

namespace Bulwark.Coherence.Checking;

/// <summary>
/// What the checker has seen, for status displays in this process: totals by (check, result) and
/// the last outcome of each (cell, check). Bounded: at most <see cref="CoherenceLimits.StatusCellsMax"/>
/// cells are remembered (a map has at most 64).
/// </summary>
public sealed class CoherenceStatus
{
    private readonly ConcurrentDictionary<(string Check, string Result), long> _totals = new();
    private readonly ConcurrentDictionary<(string Cell, string Check), CheckOutcome> _last = new();
    private long _rounds;

    /// <summary>Rounds finished.</summary>
    public long Rounds => Interlocked.Read(ref _rounds);

    /// <summary>Checks that passed, over all cells and checks.</summary>
    public long Passed => _totals.Where(entry => entry.Key.Result == CoherenceResult.Ok).Sum(entry => entry.Value);

    /// <summary>Checks that did not pass (missing, error, timeout).</summary>
    public long Failed => _totals.Where(entry => entry.Key.Result != CoherenceResult.Ok).Sum(entry => entry.Value);

    /// <summary>Reads that missed an acknowledged write.</summary>
    public long Missing => _totals.Where(entry => entry.Key.Result == CoherenceResult.Missing).Sum(entry => entry.Value);

    /// <summary>The count of one (check, result).</summary>
    public long Total(string check, string result) => _totals.GetValueOrDefault((check, result));

    /// <summary>The last outcome of every (cell, check), ordered by cell then check.</summary>
    public IReadOnlyList<CheckOutcome> Last() =>
        [.. _last.Values.OrderBy(outcome => outcome.Cell, StringComparer.Ordinal).ThenBy(outcome => outcome.Check, StringComparer.Ordinal)];

    internal void Record(CheckOutcome outcome)
    {
        _totals.AddOrUpdate((outcome.Check, outcome.Result), 1, (_, count) => count + 1);
        if (_last.ContainsKey((outcome.Cell, outcome.Check)) || _last.Count < CoherenceLimits.StatusCellsMax * CoherenceCheck.All.Count)
        {
            _last[(outcome.Cell, outcome.Check)] = outcome;
        }
    }

    internal void RecordRound() => Interlocked.Increment(ref _rounds);
}
