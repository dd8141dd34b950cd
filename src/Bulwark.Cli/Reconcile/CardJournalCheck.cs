using System.Globalization;
using Bulwark.Cards.Protos;
using Bulwark.Ledger.Protos;
using Grpc.Core;
using CardsClient = Bulwark.Cards.Protos.Cards.CardsClient;

namespace Bulwark.Cli.Reconcile;

/// <summary>
/// (b) Every card processor's journal vs the ledger's holds: an approved authorisation (HELD) has
/// its hold, for its amount, on its account; a presented one has its hold posted; a declined one
/// has none, or one no longer holding money (voided, expired); so has a reversed one. Decisions
/// the processor is still settling with the ledger (a stand-in approval queued, a hold whose
/// outcome is being resolved, a void owed) are in flight. With --repair, an approved decision whose
/// hold the ledger lacks has it placed by the processor that journalled it, under the id its journal
/// names (idempotent: the processor asks the ledger first); everything else goes to a person.
/// </summary>
internal sealed class CardJournalCheck : IReconcileCheck
{
    public string Name => "card-journal";

    public string Title => "card journal decisions vs ledger holds";

    public async Task<ReconcileCheckResult> RunAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        var instances = await context.Bank.CardsInstancesAsync(cancellationToken);
        if (instances.Count == 0)
        {
            return ReconcileCheckResult.NotChecked(this, "not checked: no card processor is registered (cards scaled to 0?)");
        }
        var findings = new ReconcileFindings();
        long compared = 0;
        foreach (var (address, cards) in instances)
        {
            var cursor = "";
            do
            {
                var page = await cards.ListDecisionsAsync(new ListDecisionsRequest { Limit = ReconcileLimits.PageSize, Cursor = cursor }, cancellationToken: cancellationToken);
                var holds = await LedgerLookup.FindAsync(context.Bank.Ledger, page.Decisions.Select(decision => decision.HoldId), cancellationToken);
                foreach (var decision in page.Decisions)
                {
                    compared++;
                    await CompareAsync(context, cards, address, decision, holds.GetValueOrDefault(decision.HoldId), findings, cancellationToken);
                }
                cursor = page.NextCursor;
            }
            while (cursor.Length > 0);
        }
        return findings.Result(this, compared, string.Create(CultureInfo.InvariantCulture, $"{instances.Count} card processor(s)"));
    }

    private static async Task CompareAsync(ReconcileContext context, CardsClient cards, string address, Decision decision, Transfer? hold, ReconcileFindings findings, CancellationToken cancellationToken)
    {
        var subject = decision.Key;
        switch (decision.State)
        {
            case DecisionState.Held when hold is null:
                await RepairMissingHoldAsync(context, cards, address, decision, findings, cancellationToken);
                break;
            case DecisionState.Held or DecisionState.Presented when hold is not null && Mismatch(decision, hold) is { } mismatch:
                findings.Add(FindingKind.NeedsPerson, subject, mismatch);
                break;
            case DecisionState.Presented when hold is null || hold.State != TransferState.HoldPosted:
                findings.Add(FindingKind.NeedsPerson, subject, $"presented by clearing, but its hold {decision.HoldId} is {Describe(hold)}, not posted");
                break;
            case DecisionState.Declined when hold is not null && hold.State is (TransferState.Pending or TransferState.HoldPosted):
                findings.Add(FindingKind.NeedsPerson, subject, $"declined (response {decision.ResponseCode}), but the ledger has its hold {decision.HoldId}, {Describe(hold)}");
                break;
            case DecisionState.Reversed when hold is not null && hold.State is (TransferState.Pending or TransferState.HoldPosted):
                findings.Add(FindingKind.NeedsPerson, subject, $"reversed, but its hold {decision.HoldId} is {Describe(hold)}, not voided");
                break;
            case DecisionState.LedgerRefused:
                findings.Add(FindingKind.NeedsPerson, subject, string.Create(CultureInfo.InvariantCulture,
                    $"approved without the ledger ({decision.Amount} {decision.Currency}), and the ledger refused the hold later: the bank owes the merchant; collect from account {decision.DebitAccountId}"));
                break;
            case DecisionState.PendingLedger or DecisionState.HoldRequested or DecisionState.VoidRequired:
                findings.Add(FindingKind.InFlight, subject, $"{decision.State}: the processor settles it with the ledger by itself");
                break;
        }
    }

    private static async Task RepairMissingHoldAsync(ReconcileContext context, CardsClient cards, string address, Decision decision, ReconcileFindings findings, CancellationToken cancellationToken)
    {
        var missing = string.Create(CultureInfo.InvariantCulture, $"approved ({decision.Amount} {decision.Currency} on {decision.DebitAccountId}), but the ledger has no hold {decision.HoldId}");
        if (!context.Repair)
        {
            findings.Add(FindingKind.Repairable, decision.Key, missing + "; --repair places it");
            return;
        }
        try
        {
            var done = await cards.RepostHoldAsync(new RepostHoldRequest { Key = decision.Key }, cancellationToken: cancellationToken);
            findings.Add(FindingKind.Repaired, decision.Key, done.AlreadyHeld
                ? $"hold {done.HoldId} was already in the ledger when the processor at {address} looked: nothing written"
                : $"{missing}; the processor at {address} placed hold {done.HoldId} from its journal");
        }
        catch (RpcException error) when (error.StatusCode is StatusCode.FailedPrecondition or StatusCode.NotFound or StatusCode.Unavailable or StatusCode.DeadlineExceeded)
        {
            findings.Add(FindingKind.NeedsPerson, decision.Key, $"{missing}; placing it failed: {error.Status.Detail}");
        }
    }

    private static string? Mismatch(Decision decision, Transfer hold)
    {
        var problems = new List<string>();
        if ((hold.Flags & (uint)TransferFlags.Pending) == 0)
        {
            problems.Add("is not a hold");
        }
        if (hold.Amount != decision.Amount || hold.Currency != decision.Currency)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"holds {hold.Amount} {hold.Currency}, the journal approved {decision.Amount} {decision.Currency}"));
        }
        if (LedgerLookup.Hex(hold.DebitAccountId) != decision.DebitAccountId)
        {
            problems.Add($"debits {LedgerLookup.Hex(hold.DebitAccountId)}, the journal's card account is {decision.DebitAccountId}");
        }
        return problems.Count == 0 ? null : $"hold {decision.HoldId} " + string.Join("; ", problems);
    }

    private static string Describe(Transfer? hold) => hold is null ? "missing" : hold.State switch
    {
        TransferState.Pending => "pending",
        TransferState.HoldPosted => "posted",
        TransferState.Voided => "voided",
        TransferState.Expired => "expired",
        _ => hold.State.ToString(),
    };
}
