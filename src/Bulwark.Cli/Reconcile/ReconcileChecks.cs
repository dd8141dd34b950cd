namespace Bulwark.Cli.Reconcile;

/// <summary>The checks <c>bulwark reconcile</c> runs, in this order, each on its own.</summary>
internal static class ReconcileChecks
{
    public static IReadOnlyList<IReconcileCheck> All() =>
    [
        new MovementsCheck(),
        new CardJournalCheck(),
        new ClearingCheck(),
        new LedgerInvariantsCheck(),
        new EventLogCheck(),
    ];
}
