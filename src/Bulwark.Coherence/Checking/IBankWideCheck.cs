namespace Bulwark.Coherence.Checking;

/// <summary>
/// A check that is not per ledger cell, run once in every round after the cells' checks: the seam
/// for reading known keys from the configuration service once it exists (issue 13, item 5). Register
/// implementations in DI (<c>services.AddSingleton&lt;IBankWideCheck, ...&gt;()</c>); the checker
/// bounds each by the cell budget, counts and logs its outcomes as it does the cells' (the outcome's
/// cell names the service checked).
/// </summary>
public interface IBankWideCheck
{
    /// <summary>Runs the check; an operating error is an outcome (error or timeout), never an exception.</summary>
    Task<IReadOnlyList<CheckOutcome>> RunAsync(CancellationToken budget);
}
