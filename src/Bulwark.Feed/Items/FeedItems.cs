using Bulwark.Feed.Ledger;
using Bulwark.Feed.Protos;
using Bulwark.Ledger.Protos;

namespace Bulwark.Feed.Items;

/// <summary>
/// Turns ledger transfers into what a customer sees. A hold carries its own life story (pending,
/// then posted, voided or expired), so the post and void records that changed it are not shown:
/// one card payment is one line in the feed.
/// </summary>
internal static class FeedItems
{
    public const uint TransferCodePotMove = 2;
    public const uint TransferCodePayment = 3;
    public const uint TransferCodeCardPayment = 4;

    public const string CategoryDefault = "general";
    public const string DescriptionDefault = "Transfer";

    private const uint PostOrVoidFlags = (uint)(TransferFlags.PostPending | TransferFlags.VoidPending);

    /// <summary>
    /// A transfer's state and amount as the customer sees them: the amount is the settled one for a
    /// posted hold (with the held amount as original when they differ). Null for transfers that are
    /// not shown.
    /// </summary>
    public static (FeedItemState State, long Amount, long OriginalAmount)? Classify(Transfer transfer)
    {
        if ((transfer.Flags & PostOrVoidFlags) != 0)
        {
            return null;
        }
        switch (transfer.State)
        {
            case TransferState.Posted:
                return (FeedItemState.Settled, transfer.Amount, 0);
            case TransferState.Pending:
                return (FeedItemState.Pending, transfer.Amount, 0);
            case TransferState.HoldPosted:
                var posted = transfer.PostedAmount > 0 ? transfer.PostedAmount : transfer.Amount;
                return (FeedItemState.Settled, posted, posted != transfer.Amount ? transfer.Amount : 0);
            case TransferState.Voided:
            case TransferState.Expired:
                return (FeedItemState.Released, transfer.Amount, 0);
            default:
                return null;
        }
    }

    /// <summary>The feed item for <paramref name="accountId"/>'s side of the transfer, or null when not shown.</summary>
    public static FeedItem? ToItem(Transfer transfer, UInt128 accountId)
    {
        if (Classify(transfer) is not { } outcome)
        {
            return null;
        }
        var debit = LedgerIds.FromProto(transfer.DebitAccountId) == accountId;
        var metadata = transfer.Metadata;
        var sign = debit ? -1 : 1;
        return new FeedItem
        {
            TransferId = LedgerIds.ToHex(LedgerIds.FromProto(transfer.Id)),
            Amount = sign * outcome.Amount,
            Currency = transfer.Currency,
            Description = Description(metadata, debit),
            Category = metadata.GetValueOrDefault("category") is { Length: > 0 } category ? category : CategoryDefault,
            State = outcome.State,
            TimestampUnixMs = transfer.TimestampUnixMs,
            OriginalAmount = outcome.OriginalAmount == 0 ? 0 : sign * outcome.OriginalAmount,
            MerchantName = metadata.GetValueOrDefault("merchant_name") ?? "",
            Reference = metadata.GetValueOrDefault("reference") ?? "",
        };
    }

    /// <summary>
    /// What the transfer counts towards "spent today" for <paramref name="accountId"/>: card
    /// payments (held or settled, at the settled amount) and payments to others leaving the
    /// account. Pot moves, income and released holds are not spending.
    /// </summary>
    public static long Spending(Transfer transfer, UInt128 accountId)
    {
        if (LedgerIds.FromProto(transfer.DebitAccountId) != accountId
            || transfer.Code is not (TransferCodePayment or TransferCodeCardPayment)
            || Classify(transfer) is not { } outcome
            || outcome.State == FeedItemState.Released)
        {
            return 0;
        }
        return outcome.Amount;
    }

    private static string Description(IDictionary<string, string> metadata, bool debit)
    {
        var sideKey = debit ? "debit_description" : "credit_description";
        foreach (var key in (ReadOnlySpan<string>)[sideKey, "description", "merchant_name"])
        {
            if (metadata.TryGetValue(key, out var value) && value.Length > 0)
            {
                return value;
            }
        }
        return DescriptionDefault;
    }
}
