using Bulwark.Cli.Operator;
using Bulwark.Ledger;

namespace Bulwark.Cli.Reconcile;

/// <summary>
/// What every check may use: the bank's services through their contracts (<see cref="Bank"/>), the
/// ledger cells' stores read-only where this machine can reach them (<see cref="LedgerSources"/>,
/// for the checks <c>bulwark ledger check</c> already makes), and whether to repair.
/// </summary>
internal sealed class ReconcileContext(BankConnection bank, bool repair, Func<CancellationToken, Task<IReadOnlyList<LedgerCellSource>>>? ledgerSources, string? ledgerSourcesMissing, string? storeUrl = null)
{
    public BankConnection Bank { get; } = bank;

    /// <summary>True with --repair: checks fix what is provably safe and say what they did.</summary>
    public bool Repair { get; } = repair;

    /// <summary>The ledger cells' stores, or null when this process cannot read them (then <see cref="LedgerSourcesMissing"/> says why).</summary>
    public Func<CancellationToken, Task<IReadOnlyList<LedgerCellSource>>>? LedgerSources { get; } = ledgerSources;

    public string? LedgerSourcesMissing { get; } = ledgerSourcesMissing;

    /// <summary>The --store URL given (a run bank's ledger in PostgreSQL), or null.</summary>
    public string? StoreUrl { get; } = storeUrl;
}
