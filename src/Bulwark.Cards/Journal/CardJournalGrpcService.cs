using System.Globalization;
using Bulwark.Cards.Authorisation;
using Bulwark.Cards.Protos;
using Grpc.Core;
using JournalState = Bulwark.Cards.Journal.DecisionState;
using TransferStatus = Bulwark.Ledger.Protos.TransferStatus;

namespace Bulwark.Cards.Journal;

/// <summary>
/// The processor's internal contract (<c>cards.proto</c>): this instance's journal read in
/// bounded pages for operators' tools, and the one repair they may ask of it. Like every internal
/// contract it is reachable only on the internal port; operators' calls carry their credentials
/// through the CLI's one place for them (docs/internals/security.md).
/// </summary>
internal sealed class CardJournalGrpcService(CardJournal journal, CardProcessor processor) : Protos.Cards.CardsBase
{
    /// <summary>Records in one page when the request names no limit.</summary>
    public const int ListLimitDefault = 200;

    /// <summary>The most records in one page: about 200 bytes each, so a reply stays near 200 KB and its query short.</summary>
    public const int ListLimitMax = 1_000;

    public override Task<ListDecisionsResponse> ListDecisions(ListDecisionsRequest request, ServerCallContext context)
    {
        var limit = Limit(request.Limit);
        var cursor = request.Cursor.Length == 0 ? null : request.Cursor;
        var decisions = journal.ListDecisions(cursor, limit + 1, request.UpdatedFromUnixMs, request.UpdatedBeforeUnixMs);
        var response = new ListDecisionsResponse();
        foreach (var (decision, updatedAt) in decisions.Take(limit))
        {
            response.Decisions.Add(new Decision
            {
                Key = decision.Key,
                ResponseCode = decision.ResponseCode,
                HoldId = CardJournal.Hex(decision.HoldId),
                DebitAccountId = CardJournal.Hex(decision.DebitAccountId),
                Amount = decision.Amount,
                Currency = decision.Currency,
                State = (Protos.DecisionState)(int)decision.State,
                UpdatedAtUnixMs = updatedAt,
            });
        }
        if (decisions.Count > limit)
        {
            response.NextCursor = decisions[limit - 1].Decision.Key;
        }
        return Task.FromResult(response);
    }

    public override Task<ListPresentmentsResponse> ListPresentments(ListPresentmentsRequest request, ServerCallContext context)
    {
        var limit = Limit(request.Limit);
        var presentments = journal.ListPresentments(request.Cursor.Length == 0 ? null : request.Cursor, limit + 1);
        var response = new ListPresentmentsResponse();
        foreach (var (id, transfer, ingestedAt) in presentments.Take(limit))
        {
            response.Presentments.Add(new PresentmentRecord
            {
                PresentmentId = id,
                TransferId = transfer,
                IngestedAtUnixMs = ingestedAt,
                PostId = CardJournal.Hex(CardKeys.Post(id)),
                DifferenceId = CardJournal.Hex(CardKeys.Difference(id)),
                ForcePostId = CardJournal.Hex(CardKeys.ForcePost(id)),
            });
        }
        if (presentments.Count > limit)
        {
            response.NextCursor = presentments[limit - 1].PresentmentId;
        }
        return Task.FromResult(response);
    }

    public override async Task<RepostHoldResponse> RepostHold(RepostHoldRequest request, ServerCallContext context)
    {
        if (request.Key.Length == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "key is required: the decision's acquirer:rrn:stan"));
        }
        HoldRepost? repost;
        try
        {
            repost = await processor.RepostHoldAsync(request.Key, context.CancellationToken);
        }
        catch (DecisionUnresolvedException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the ledger did not answer; nothing was written (asking again is safe)"));
        }
        if (repost is null)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"the journal has no decision {request.Key}"));
        }
        var holdId = CardJournal.Hex(repost.Decision.HoldId);
        if (repost.Decision.State != JournalState.Held)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"decision {request.Key} is {repost.Decision.State}, not an approved hold: nothing to place"));
        }
        if (repost.Status != TransferStatus.Ok)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"the ledger refused hold {holdId}: {repost.Status}"));
        }
        return new RepostHoldResponse { AlreadyHeld = repost.AlreadyHeld, HoldId = holdId };
    }

    private static int Limit(int requested) => requested switch
    {
        0 => ListLimitDefault,
        < 0 or > ListLimitMax => throw new RpcException(new Status(StatusCode.InvalidArgument, string.Create(CultureInfo.InvariantCulture,
            $"limit must be 0 (default {ListLimitDefault}) to {ListLimitMax}, not {requested}"))),
        _ => requested,
    };
}
