using System.Globalization;
using Bulwark.Feed.Items;
using Bulwark.Feed.Ledger;
using Bulwark.Feed.Protos;
using Bulwark.Feed.Telemetry;
using Grpc.Core;

namespace Bulwark.Feed.Grpc;

/// <summary>
/// The feed's gRPC contract (feed.proto). The feed keeps nothing: every answer is read from the
/// ledger's transfers and shaped for the customer.
/// </summary>
internal sealed class FeedGrpcService(LedgerReader ledger, FeedMetrics metrics, TimeProvider time, FeedOptions options) : Protos.Feed.FeedBase
{
    private readonly TimeZoneInfo _customerZone = options.CustomerTimeZone;

    public override async Task<ListFeedResponse> ListFeed(ListFeedRequest request, ServerCallContext context)
    {
        var accountId = LedgerAccountId(request.LedgerAccountId);
        var limit = request.Limit == 0 ? FeedLimits.ListLimitDefault : request.Limit;
        if (limit is < 1 or > FeedLimits.ListLimitMax)
        {
            throw FeedErrors.Invalid("limit", string.Create(CultureInfo.InvariantCulture,
                $"must be 1 to {FeedLimits.ListLimitMax} (0 means {FeedLimits.ListLimitDefault})"));
        }
        var ledgerCursor = request.Cursor.Length == 0 ? "" : FeedCursor.Decode(request.Cursor, accountId);

        var response = new ListFeedResponse();
        var pages = 0;
        do
        {
            // Ask only for what is still missing, so every transfer the ledger returns is consumed
            // and its next cursor is exactly where the following page starts.
            var page = await ledger.ListTransfersAsync(accountId, ledgerCursor, limit - response.Items.Count, sinceUnixMs: 0, context);
            pages++;
            foreach (var transfer in page.Transfers)
            {
                if (FeedItems.ToItem(transfer, accountId) is { } item)
                {
                    response.Items.Add(item);
                }
            }
            ledgerCursor = page.NextCursor;
        }
        while (response.Items.Count < limit && ledgerCursor.Length > 0 && pages < FeedLimits.ListFeedLedgerPagesMax);
        metrics.RecordLedgerPages(nameof(ListFeed), pages);

        // An empty first page may mean an account the ledger does not know; say so rather than
        // show an empty feed for a mistyped id.
        if (response.Items.Count == 0 && request.Cursor.Length == 0 && await ledger.GetAccountAsync(accountId, context) is null)
        {
            throw FeedErrors.NotFound($"There is no ledger account {LedgerIds.ToHex(accountId)}.");
        }
        response.NextCursor = ledgerCursor.Length == 0 ? "" : FeedCursor.Encode(accountId, ledgerCursor);
        return response;
    }

    public override async Task<SpentTodayResponse> SpentToday(SpentTodayRequest request, ServerCallContext context)
    {
        var accountId = LedgerAccountId(request.LedgerAccountId);
        var account = await ledger.GetAccountAsync(accountId, context)
            ?? throw FeedErrors.NotFound($"There is no ledger account {LedgerIds.ToHex(accountId)}.");
        var sinceUnixMs = CustomerDay.StartOf(time.GetUtcNow(), _customerZone).ToUnixTimeMilliseconds();

        long spent = 0;
        var cursor = "";
        var pages = 0;
        var reachedYesterday = false;
        do
        {
            if (pages == FeedLimits.SpentTodayLedgerPagesMax)
            {
                throw FeedErrors.ResourceExhausted(string.Create(CultureInfo.InvariantCulture,
                    $"More than {FeedLimits.SpentTodayLedgerPagesMax * FeedLimits.SpentTodayLedgerPageSize} transfers today; spending cannot be totalled."));
            }
            var page = await ledger.ListTransfersAsync(accountId, cursor, FeedLimits.SpentTodayLedgerPageSize, sinceUnixMs, context);
            pages++;
            foreach (var transfer in page.Transfers)
            {
                // Newest first: a transfer from before today means the rest are older still.
                if (transfer.TimestampUnixMs < sinceUnixMs)
                {
                    reachedYesterday = true;
                    continue;
                }
                spent = checked(spent + FeedItems.Spending(transfer, accountId));
            }
            cursor = page.NextCursor;
        }
        while (cursor.Length > 0 && !reachedYesterday);
        metrics.RecordLedgerPages(nameof(SpentToday), pages);
        return new SpentTodayResponse { Amount = spent, Currency = account.Currency };
    }

    private static UInt128 LedgerAccountId(string value)
    {
        if (value.Length == 0)
        {
            throw FeedErrors.Invalid("ledger_account_id", "is required");
        }
        if (value.Length != 32 || !value.All(char.IsAsciiHexDigit)
            || !UInt128.TryParse(value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var id))
        {
            throw FeedErrors.Invalid("ledger_account_id", "must be 32 hex digits");
        }
        if (id == UInt128.Zero)
        {
            throw FeedErrors.Invalid("ledger_account_id", "must not be zero");
        }
        return id;
    }
}
