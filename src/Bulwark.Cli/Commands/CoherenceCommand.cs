using System.Globalization;
using Bulwark.Coherence.Checking;

namespace Bulwark.Cli.Commands;

/// <summary>How the coherence checker's results read in the CLI's output (docs/internals/coherence.md).</summary>
internal static class CoherenceCommand
{
    /// <summary>
    /// One line: checks passed and failed, reads that missed an acknowledged write, rounds, and
    /// the failing (cell, check) pairs as their last outcome says.
    /// </summary>
    public static string Describe(CoherenceStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var failing = status.Last().Where(outcome => !outcome.Passed).Select(outcome => $"{outcome.Cell}/{outcome.Check} {outcome.Result}").ToList();
        var line = string.Create(CultureInfo.InvariantCulture,
            $"Coherence: {status.Passed:N0} checks passed, {status.Failed:N0} failed ({status.Missing:N0} missing an acknowledged write) in {status.Rounds:N0} round(s)");
        return failing.Count == 0 ? line : $"{line}; failing now: {string.Join(", ", failing)}";
    }
}
