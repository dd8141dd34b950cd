namespace Bulwark.Cli.Reconcile;

/// <summary>
/// (e) Ledger vs event log: every committed transfer in the log once, with the same body. The
/// comparison belongs to <c>bulwark ledger verify</c>, which is being built separately; until it
/// exists this check reports "not checked" rather than a pass. When it lands, it implements
/// <see cref="IReconcileCheck"/> (reading the cells from <see cref="ReconcileContext.LedgerSources"/>)
/// and replaces this class in <see cref="ReconcileChecks.All"/>; its --repair republishes a
/// missing event from the store's outbox.
/// </summary>
internal sealed class EventLogCheck : IReconcileCheck
{
    public string Name => "event-log";

    public string Title => "ledger vs event log";

    public Task<ReconcileCheckResult> RunAsync(ReconcileContext context, CancellationToken cancellationToken) =>
        Task.FromResult(ReconcileCheckResult.NotChecked(this, "not checked: the ledger-vs-log comparison (bulwark ledger verify) is not built yet"));
}
