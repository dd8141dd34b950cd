using System.Globalization;
using Bulwark.Ledger;

namespace Bulwark.Cli.Reconcile;

/// <summary>
/// (d) Transit accounts across cells net to zero, with every other ledger invariant: exactly what
/// <c>bulwark ledger check</c> verifies (<see cref="LedgerChecker.CheckCells"/>), run here on the
/// same stores, read-only. Credit legs still owed between cells are in flight, not differences. With
/// --repair, reconcile waits (bounded) for the ledger's own credit-leg delivery, which retries by
/// itself, to deliver them; legs still owed after the wait go to a person, never written by hand.
/// </summary>
internal sealed class LedgerInvariantsCheck : IReconcileCheck
{
    public string Name => "transit";

    public string Title => "transit accounts across cells net to zero (and every ledger invariant, as ledger check)";

    public async Task<ReconcileCheckResult> RunAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        if (context.LedgerSources is not { } sources)
        {
            return ReconcileCheckResult.NotChecked(this, context.LedgerSourcesMissing ?? "the ledger's stores cannot be read from here");
        }
        var cells = await sources(cancellationToken);
        var report = await Task.Run(() => LedgerChecker.CheckCells(cells), cancellationToken);
        var findings = new ReconcileFindings();
        if (report.CreditLegsInFlight > 0 && context.Repair && report.Ok)
        {
            report = await AwaitDeliveryAsync(cells, report, findings, cancellationToken);
        }
        foreach (var problem in report.Problems)
        {
            findings.Add(FindingKind.NeedsPerson, "ledger", problem);
        }
        var waited = context.Repair && report.Ok;
        foreach (var id in report.CreditLegsInFlightIds)
        {
            if (waited)
            {
                findings.Add(FindingKind.NeedsPerson, id, string.Create(CultureInfo.InvariantCulture,
                    $"credit leg still owed after waiting {ReconcileLimits.CreditLegWaitSecondsMax} s for the ledger's delivery: the credit account's cell is not taking it (docs/runbooks/reconcile.md)"));
            }
            else
            {
                findings.Add(FindingKind.InFlight, id, "credit leg owed to another cell; the debit cell's delivery retries by itself");
            }
        }
        var note = string.Create(CultureInfo.InvariantCulture, $"{report.CellCount} cell(s), {report.AccountCount} accounts");
        return findings.Result(this, report.TransferCount, note);
    }

    /// <summary>Re-checks once a second until no credit leg is owed, or the bound passes; records what was delivered meanwhile.</summary>
    private static async Task<LedgerCheckReport> AwaitDeliveryAsync(IReadOnlyList<LedgerCellSource> cells, LedgerCheckReport first, ReconcileFindings findings, CancellationToken cancellationToken)
    {
        var report = first;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(ReconcileLimits.CreditLegWaitSecondsMax);
        while (report.Ok && report.CreditLegsInFlight > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            report = await Task.Run(() => LedgerChecker.CheckCells(cells), cancellationToken);
        }
        var stillOwed = report.CreditLegsInFlightIds.ToHashSet(StringComparer.Ordinal);
        foreach (var id in first.CreditLegsInFlightIds.Where(id => !stillOwed.Contains(id)))
        {
            findings.Add(FindingKind.Repaired, id, "credit leg delivered by the ledger's own delivery while reconcile waited");
        }
        return report;
    }
}
