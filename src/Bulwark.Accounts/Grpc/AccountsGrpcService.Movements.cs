using System.Globalization;
using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Validation;
using Grpc.Core;

namespace Bulwark.Accounts.Grpc;

internal sealed partial class AccountsGrpcService
{
    public override async Task<ListMovementsResponse> ListMovements(ListMovementsRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > AccountsLimits.ListMovementsLimitMax)
        {
            throw AccountsErrors.Invalid("limit", string.Create(CultureInfo.InvariantCulture,
                $"must be 0 (default {AccountsLimits.ListMovementsLimitDefault}) to {AccountsLimits.ListMovementsLimitMax}, not {request.Limit}"));
        }
        // The cursor is the last transfer id of the previous page: opaque to callers, checked like a key.
        var after = request.Cursor.Length == 0 ? null : LedgerIds.ToHex(RequestFields.IdempotencyKey(request.Cursor, "cursor"));
        var limit = request.Limit == 0 ? AccountsLimits.ListMovementsLimitDefault : request.Limit;
        // One more than asked tells whether another page follows without a second query.
        var movements = await store.ListMovementsAsync(after, limit + 1, context.CancellationToken);
        var response = new ListMovementsResponse();
        foreach (var movement in movements.Take(limit))
        {
            response.Movements.Add(new RecordedMovement
            {
                TransferId = movement.TransferId,
                CustomerId = movement.CustomerId,
                Kind = movement.Kind,
                Amount = movement.Amount,
                Currency = movement.Currency,
                TimestampUnixMs = movement.TimestampUnixMs,
            });
        }
        if (movements.Count > limit)
        {
            response.NextCursor = movements[limit - 1].TransferId;
        }
        return response;
    }
}
