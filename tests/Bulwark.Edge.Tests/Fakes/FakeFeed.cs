using System.Globalization;
using Bulwark.Feed.Protos;
using Grpc.Core;

namespace Bulwark.Edge.Tests.Fakes;

/// <summary>An in-memory feed: pages of the fake bank's items, the cursor being the next index.</summary>
public sealed class FakeFeed(FakeBank bank) : Bulwark.Feed.Protos.Feed.FeedBase
{
    public const string Service = "feed";

    public override async Task<ListFeedResponse> ListFeed(ListFeedRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            if (!bank.Feeds.TryGetValue(request.LedgerAccountId, out var items))
            {
                throw new RpcException(new Status(StatusCode.NotFound, "unknown ledger account"));
            }
            var start = 0;
            if (request.Cursor.Length > 0 && !int.TryParse(request.Cursor, NumberStyles.None, CultureInfo.InvariantCulture, out start))
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, "cursor is not a cursor of this feed"));
            }
            var limit = request.Limit == 0 ? 20 : request.Limit;
            var response = new ListFeedResponse();
            response.Items.AddRange(items.Skip(start).Take(limit));
            if (start + limit < items.Count)
            {
                response.NextCursor = (start + limit).ToString(CultureInfo.InvariantCulture);
            }
            return response;
        }
    }

    public override async Task<SpentTodayResponse> SpentToday(SpentTodayRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            var startOfDay = new DateTimeOffset(DateTimeOffset.UtcNow.UtcDateTime.Date, TimeSpan.Zero).ToUnixTimeMilliseconds();
            var spent = bank.Feeds[request.LedgerAccountId]
                .Where(i => i.Amount < 0 && i.Category != "pot" && i.TimestampUnixMs >= startOfDay && i.State != FeedItemState.Released)
                .Sum(i => -i.Amount);
            return new SpentTodayResponse { Amount = spent, Currency = "GBP" };
        }
    }
}
