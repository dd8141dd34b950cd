using System.Globalization;
using Bulwark.Cards.Protos;
using Bulwark.Ledger.Protos;

namespace Bulwark.Cli.Reconcile;

/// <summary>
/// (c) Clearing posted vs holds: every presentment a processor recorded as posted is in the ledger
/// exactly once — as the post of a hold (the hold then posted, for the post's amount) or as a
/// force-post, never both — under the transfer id the journal names. The journal keeps no presented
/// amount, so the amount is checked against the hold, not against the file. Nothing here is
/// repaired by a tool: a missing or double post is money a person must look at.
/// </summary>
internal sealed class ClearingCheck : IReconcileCheck
{
    public string Name => "clearing";

    public string Title => "clearing presentments posted vs holds";

    public async Task<ReconcileCheckResult> RunAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        var instances = await context.Bank.CardsInstancesAsync(cancellationToken);
        if (instances.Count == 0)
        {
            return ReconcileCheckResult.NotChecked(this, "not checked: no card processor is registered (cards scaled to 0?)");
        }
        var findings = new ReconcileFindings();
        long compared = 0;
        foreach (var (_, cards) in instances)
        {
            var cursor = "";
            do
            {
                var page = await cards.ListPresentmentsAsync(new ListPresentmentsRequest { Limit = ReconcileLimits.PageSize, Cursor = cursor }, cancellationToken: cancellationToken);
                var transfers = await LedgerLookup.FindAsync(context.Bank.Ledger,
                    page.Presentments.SelectMany(presentment => new[] { presentment.TransferId, presentment.PostId, presentment.ForcePostId }), cancellationToken);
                var holds = await LedgerLookup.FindAsync(context.Bank.Ledger,
                    transfers.Values.Where(transfer => transfer.PendingId is not null && (transfer.Flags & (uint)TransferFlags.PostPending) != 0).Select(transfer => LedgerLookup.Hex(transfer.PendingId)),
                    cancellationToken);
                foreach (var presentment in page.Presentments)
                {
                    compared++;
                    Compare(presentment, transfers, holds, findings);
                }
                cursor = page.NextCursor;
            }
            while (cursor.Length > 0);
        }
        return findings.Result(this, compared);
    }

    private static void Compare(PresentmentRecord presentment, Dictionary<string, Transfer> transfers, Dictionary<string, Transfer> holds, ReconcileFindings findings)
    {
        var subject = presentment.PresentmentId;
        var post = transfers.GetValueOrDefault(presentment.PostId);
        var forced = transfers.GetValueOrDefault(presentment.ForcePostId);
        if (post is not null && forced is not null)
        {
            findings.Add(FindingKind.NeedsPerson, subject, $"posted twice: by the post {presentment.PostId} of a hold and by the force-post {presentment.ForcePostId}");
            return;
        }
        if (!transfers.TryGetValue(presentment.TransferId, out var recorded))
        {
            findings.Add(FindingKind.NeedsPerson, subject, $"recorded as posted by {presentment.TransferId}, which the ledger does not have");
            return;
        }
        if ((recorded.Flags & (uint)TransferFlags.PostPending) == 0)
        {
            return;
        }
        var holdId = LedgerLookup.Hex(recorded.PendingId);
        if (!holds.TryGetValue(holdId, out var hold))
        {
            findings.Add(FindingKind.NeedsPerson, subject, $"its post {presentment.TransferId} names hold {holdId}, which the ledger does not have");
        }
        else if (hold.State != TransferState.HoldPosted || hold.PostedAmount != recorded.Amount)
        {
            findings.Add(FindingKind.NeedsPerson, subject, string.Create(CultureInfo.InvariantCulture,
                $"its post {presentment.TransferId} of {recorded.Amount} does not match hold {holdId} ({hold.State}, posted {hold.PostedAmount})"));
        }
    }
}
