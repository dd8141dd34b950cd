using System.Diagnostics;
using System.Globalization;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Telemetry;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Grpc;

/// <summary>
/// The ledger's gRPC face: request-level checks (sizes, required fields) become INVALID_ARGUMENT
/// naming the field; per-item outcomes are statuses in the reply; a batch that could not commit is
/// UNAVAILABLE (retriable: nothing was written); a broken invariant is INTERNAL.
/// </summary>
internal sealed partial class LedgerGrpcService(LedgerCells cells, ILogger<LedgerGrpcService> logger, ILedgerCellPeers? peers = null)
    : Protos.Ledger.LedgerBase
{
    /// <summary>The partition a refusal names when the request did not say which (a post or void naming no debit account).</summary>
    public const uint UnknownPartition = uint.MaxValue;

    public override Task<CreateAccountsResponse> CreateAccounts(CreateAccountsRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            CheckCount("accounts", request.Accounts.Count, LedgerLimits.CreateAccountsMax);
            var ahead = EpochsAhead(engine, request.Placement);
            var accounts = request.Accounts.Select(account => account.ToLedger()).ToArray();
            var admitted = ahead is null ? accounts : accounts.Where(account => !ahead.ContainsKey(PartitionOf(engine, account.Id))).ToArray();
            var results = await engine.CreateAccountsAsync(admitted, context.CancellationToken);
            var response = new CreateAccountsResponse();
            var refusals = new RefusalList(engine);
            var next = 0;
            foreach (var account in accounts)
            {
                if (ahead is not null && ahead.TryGetValue(PartitionOf(engine, account.Id), out var early))
                {
                    response.Results.Add(new CreateAccountResult { Status = CreateAccountStatus.WrongOwner });
                    refusals.Add(early);
                    continue;
                }
                var result = results[next++];
                refusals.Add(result.Refusal);
                response.Results.Add(new CreateAccountResult { Status = result.Status, Duplicate = result.Duplicate });
            }
            response.Refusals.AddRange(refusals.ToProto());
            return response;
        });

    public override Task<SubmitTransfersResponse> SubmitTransfers(SubmitTransfersRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            CheckCount("transfers", request.Transfers.Count, LedgerLimits.SubmitTransfersMax);
            var declared = request.IdNamespace;
            var transfers = request.Transfers.Select(transfer => transfer.ToLedger()).ToArray();
            var refused = await RefusedForNamespaceAsync(engine, declared, transfers, context.CancellationToken);
            var ahead = EpochsAhead(engine, request.Placement);
            var early = new Cells.LedgerRefusal?[transfers.Length];
            if (ahead is not null)
            {
                for (var index = 0; index < transfers.Length; index++)
                {
                    if (transfers[index].DebitAccountId != UInt128.Zero && ahead.TryGetValue(PartitionOf(engine, transfers[index].DebitAccountId), out var refusal))
                    {
                        early[index] = refusal;
                    }
                }
            }
            var admitted = transfers.Where((_, index) => !(refused is not null && refused[index]) && early[index] is null).ToArray();
            // The credit accounts were sorted into local and remote by this snapshot; the writer
            // refuses (MOVING, retried) a transfer whose credit partition changed hands since.
            var lookedUp = engine.Ownership;
            var remote = await RemoteCreditAccountsAsync(engine, lookedUp, admitted, context.CancellationToken);
            // A transfer to another cell's account is answered once its credit leg is delivered too,
            // in the normal case: the payer and the payee then read what they were told. Beyond
            // the wait, the answer is still OK: the leg is durable and delivered soon after.
            var waits = remote is null ? [] : admitted.Where(transfer => remote.ContainsKey(transfer.CreditAccountId) && !transfer.IsHold)
                .Select(transfer => (transfer.Id, Settled: engine.CreditLegSettled(transfer.Id))).ToArray();
            IReadOnlyList<LedgerTransferResult> results;
            try
            {
                results = await engine.SubmitAsync(admitted, remote, lookedUp, context.CancellationToken);
                // A set, not a scan per wait: a call may hold thousands of transfers.
                var committedNow = results.Where(result => result.Transfer is not null && !result.Duplicate).Select(result => result.Transfer!.Id).ToHashSet();
                var owed = waits.Where(wait => committedNow.Contains(wait.Id)).Select(wait => wait.Settled).ToArray();
                if (owed.Length > 0)
                {
                    await Task.WhenAny(Task.WhenAll(owed), Task.Delay(TimeSpan.FromMilliseconds(LedgerLimits.CreditLegWaitMilliseconds), context.CancellationToken));
                }
            }
            finally
            {
                foreach (var (id, _) in waits)
                {
                    engine.ForgetCreditLeg(id);
                }
            }
            var response = new SubmitTransfersResponse();
            var refusals = new RefusalList(engine);
            var next = 0;
            for (var index = 0; index < transfers.Length; index++)
            {
                if (refused is not null && refused[index])
                {
                    response.Results.Add(new TransferResult { Status = TransferStatus.IdNamespaceMismatch });
                    continue;
                }
                if (early[index] is { } tooEarly)
                {
                    response.Results.Add(new TransferResult { Status = TransferStatus.WrongOwner });
                    refusals.Add(tooEarly);
                    continue;
                }
                var result = results[next++];
                refusals.Add(result.Refusal);
                if (result.Status == TransferStatus.IdAlreadyUsedWithDifferentBody)
                {
                    IdConflict(engine, declared, transfers[index].Id);
                }
                var reply = new TransferResult { Status = result.Status, Duplicate = result.Duplicate };
                if (result.Transfer is not null)
                {
                    reply.Transfer = result.Transfer.ToProto();
                }
                response.Results.Add(reply);
            }
            response.Refusals.AddRange(refusals.ToProto());
            return response;
        });

    public override Task<ApplyCreditLegsResponse> ApplyCreditLegs(ApplyCreditLegsRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            CheckCount("legs", request.Legs.Count, LedgerLimits.SubmitTransfersMax);
            var legs = request.Legs.Select(leg => leg.ToLedger() with { State = TransferState.Posted }).ToArray();
            for (var index = 0; index < legs.Length; index++)
            {
                if (legs[index].Leg != TransferLeg.Credit)
                {
                    throw Invalid(Invariant($"legs[{index}].leg"), "must be TRANSFER_LEG_CREDIT");
                }
            }
            var results = await engine.ApplyCreditLegsAsync(legs, context.CancellationToken);
            var response = new ApplyCreditLegsResponse();
            var refusals = new RefusalList(engine);
            foreach (var result in results)
            {
                refusals.Add(result.Refusal);
                var reply = new TransferResult { Status = result.Status, Duplicate = result.Duplicate };
                if (result.Transfer is not null)
                {
                    reply.Transfer = result.Transfer.ToProto();
                }
                response.Results.Add(reply);
            }
            response.Refusals.AddRange(refusals.ToProto());
            return response;
        });

    /// <summary>
    /// The credit accounts of admitted transfers that live in partitions this cell does not serve,
    /// asked of their owners before anything is queued (so that the debit leg is never committed
    /// for an account that does not exist). Null when there are none.
    /// </summary>
    private async Task<IReadOnlyDictionary<UInt128, LedgerAccount>?> RemoteCreditAccountsAsync(LedgerEngine engine, CellOwnership ownership, LedgerTransfer[] transfers, CancellationToken cancellationToken)
    {
        if (ownership.ServesAll)
        {
            return null;
        }
        HashSet<UInt128>? ids = null;
        foreach (var transfer in transfers)
        {
            if (transfer.IsPost || transfer.IsVoid || transfer.DebitAccountId == UInt128.Zero || transfer.CreditAccountId == UInt128.Zero)
            {
                continue;
            }
            var creditPartition = PartitionOf(engine, transfer.CreditAccountId);
            if (creditPartition != PartitionOf(engine, transfer.DebitAccountId) && !ownership.Serves(creditPartition)
                && ownership.Serves(PartitionOf(engine, transfer.DebitAccountId)))
            {
                (ids ??= []).Add(transfer.CreditAccountId);
            }
        }
        if (ids is null)
        {
            return null;
        }
        if (peers is null)
        {
            throw new LedgerUnavailableException("This cell has no route to the other cells, which own the credit accounts of some of these transfers; retrying with the same ids is safe.");
        }
        return await peers.FindAccountsAsync(ids, cancellationToken);
    }

    /// <summary>The partitions whose epoch the caller named ahead of this cell's: refused before anything is queued.</summary>
    private static Dictionary<int, Cells.LedgerRefusal>? EpochsAhead(LedgerEngine engine, RepeatedField<PartitionEpoch> placement)
    {
        if (placement.Count == 0)
        {
            return null;
        }
        var ownership = engine.Ownership;
        Dictionary<int, Cells.LedgerRefusal>? ahead = null;
        foreach (var named in placement)
        {
            if (named.Partition >= (uint)ownership.PartitionCount)
            {
                throw Invalid("placement", Invariant($"names partition {named.Partition}; this ledger has {ownership.PartitionCount}"));
            }
            if (ownership.Refusal((int)named.Partition, (long)Math.Min(named.Epoch, long.MaxValue)) is { Reason: RefusalReason.EpochAhead } refusal)
            {
                (ahead ??= [])[(int)named.Partition] = refusal;
            }
        }
        return ahead;
    }

    private static int PartitionOf(LedgerEngine engine, UInt128 accountId) => LedgerPartitioner.PartitionOf(accountId, engine.Options.PartitionCount);

    /// <summary>
    /// Which transfers break the namespace rule (null: none). A new transfer's id must carry the
    /// request's declared namespace in its top byte, and a customer's transfer may not be forced.
    /// An id that is already committed is let through: the engine answers it as it always has
    /// (duplicate, or "already used"), so a retry of a transfer made before namespaces existed, or
    /// made with the same id, still learns its outcome — and nothing new is written under it.
    /// </summary>
    private async Task<bool[]?> RefusedForNamespaceAsync(LedgerEngine engine, IdNamespace declared, LedgerTransfer[] transfers, CancellationToken cancellationToken)
    {
        List<int>? suspects = null;
        for (var index = 0; index < transfers.Length; index++)
        {
            if (!FitsNamespace(declared, transfers[index]))
            {
                (suspects ??= []).Add(index);
            }
        }
        if (suspects is null)
        {
            return null;
        }
        var committed = (await engine.FindCommittedTransfersAsync(suspects.Select(index => transfers[index].Id).ToArray(), cancellationToken))
            .Select(transfer => transfer.Id).ToHashSet();
        var refused = new bool[transfers.Length];
        foreach (var index in suspects)
        {
            refused[index] = !committed.Contains(transfers[index].Id);
            if (refused[index])
            {
                engine.Metrics.TransferDecided(new LedgerTransferResult(TransferStatus.IdNamespaceMismatch, Duplicate: false, Transfer: null));
                LogNamespaceMismatch(LedgerMetrics.NamespaceName(declared), Invariant($"{transfers[index].Id:x32}"));
            }
        }
        return refused;
    }

    /// <summary>A zero id is left to the engine, which refuses it with its own status.</summary>
    internal static bool FitsNamespace(IdNamespace declared, LedgerTransfer transfer) =>
        transfer.Id == UInt128.Zero
        || (declared != IdNamespace.Unspecified
            && Uint128.NamespaceOf(transfer.Id) == declared
            && !(declared == IdNamespace.Customer && transfer.IsForced));

    /// <summary>
    /// "Id already used" told to the card processor or the bank's own jobs means a transfer the
    /// bank needs (a presentment's post, a hold's release) was not written: counted for the alert
    /// BulwarkLedgerIdConflict and logged as an error. For customers it is an ordinary answer (a
    /// reused idempotency key) and only counted.
    /// </summary>
    private void IdConflict(LedgerEngine engine, IdNamespace declared, UInt128 id)
    {
        engine.Metrics.IdConflict(declared);
        if (declared is IdNamespace.Card or IdNamespace.Bank)
        {
            LogBankIdConflict(LedgerMetrics.NamespaceName(declared), Invariant($"{id:x32}"));
        }
    }

    public override Task<GetAccountsResponse> GetAccounts(GetAccountsRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            CheckCount("ids", request.Ids.Count, LedgerLimits.LookupIdsMax);
            var ids = request.Ids.Select(id => id.ToUInt128()).ToArray();
            var ahead = EpochsAhead(engine, request.Placement);
            var ownership = engine.Ownership;
            var refusals = new RefusalList(engine);
            var notServed = new HashSet<UInt128>();
            foreach (var id in ids)
            {
                var partition = PartitionOf(engine, id);
                var refusal = ahead is not null && ahead.TryGetValue(partition, out var early) ? early : ownership.Refusal(partition);
                if (refusal is not null)
                {
                    notServed.Add(id);
                    refusals.Add(refusal);
                }
            }
            var found = await engine.GetAccountsAsync(notServed.Count == 0 ? ids : ids.Where(id => !notServed.Contains(id)).ToArray(), ownership, context.CancellationToken);
            var after = engine.Ownership;
            var response = new GetAccountsResponse();
            var foundIds = new HashSet<UInt128>(found.Count);
            foreach (var account in found)
            {
                foundIds.Add(account.Id);
                response.Accounts.Add(account.ToProto());
            }
            foreach (var id in ids)
            {
                if (notServed.Contains(id))
                {
                    response.Refused.Add(id.ToProto());
                }
                else if (!foundIds.Contains(id))
                {
                    var partition = PartitionOf(engine, id);
                    if (CellOwnership.ServedThroughout(ownership, after, partition))
                    {
                        response.Missing.Add(id.ToProto());
                    }
                    else
                    {
                        // Its partition moved during the read: "not found" would be a guess; the new owner answers.
                        response.Refused.Add(id.ToProto());
                        refusals.Add(CellOwnership.RefusalAfter(after, partition));
                    }
                }
            }
            response.Refusals.AddRange(refusals.ToProto());
            return response;
        });

    public override Task<GetTransfersResponse> GetTransfers(GetTransfersRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            CheckCount("ids", request.Ids.Count, LedgerLimits.LookupIdsMax);
            var ids = request.Ids.Select(id => id.ToUInt128()).ToArray();
            // Read before the lookup: a partition gained in between is then not claimed as answered.
            var ownership = engine.Ownership;
            var found = await engine.GetTransfersAsync(ids, ownership, context.CancellationToken);
            // Answered: partitions served throughout the lookup (one that moved during it may have lost its rows).
            var after = engine.Ownership;
            var response = new GetTransfersResponse();
            var foundIds = new HashSet<UInt128>(found.Count);
            foreach (var transfer in found)
            {
                foundIds.Add(transfer.Id);
                response.Transfers.Add(transfer.ToProto());
            }
            response.Missing.AddRange(ids.Where(id => !foundIds.Contains(id)).Select(id => id.ToProto()));
            if (!ownership.ServesAll || !ReferenceEquals(ownership, after))
            {
                response.AnsweredPartitions = Google.Protobuf.ByteString.CopyFrom(CellOwnership.AnsweredThroughout(ownership, after));
            }
            return response;
        });

    public override Task<ListAccountTransfersResponse> ListAccountTransfers(ListAccountTransfersRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            var accountId = request.AccountId.ToUInt128();
            if (accountId == UInt128.Zero)
            {
                throw Invalid("account_id", "is required and must not be zero");
            }
            if (request.Limit is < 0 or > LedgerLimits.ListTransfersLimitMax)
            {
                throw Invalid("limit", Invariant($"must be 0 (default {LedgerLimits.ListTransfersLimitDefault}) to {LedgerLimits.ListTransfersLimitMax}, not {request.Limit}"));
            }
            if (request.SinceUnixMs < 0)
            {
                throw Invalid("since_unix_ms", "must not be negative");
            }
            if (request.Cursor.Length > 0 && !LedgerCursor.TryDecode(request.Cursor, accountId, out _))
            {
                throw Invalid("cursor", "is not a cursor this ledger issued for this account; start again from the first page");
            }
            if (EpochsAhead(engine, request.Placement) is { } ahead && ahead.TryGetValue(PartitionOf(engine, accountId), out var early))
            {
                throw new LedgerWrongOwnerException(early);
            }
            var page = await engine.ListAccountTransfersAsync(accountId, request.Cursor, request.Limit, request.SinceUnixMs, context.CancellationToken)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"account_id: there is no ledger account {accountId:x32}."));
            var response = new ListAccountTransfersResponse { NextCursor = page.NextCursor };
            response.Transfers.AddRange(page.Transfers.Select(transfer => transfer.ToProto()));
            return response;
        });

    private async Task<T> Guard<T>(ServerCallContext context, Func<LedgerEngine, Task<T>> call)
    {
        var engine = cells.For(context);
        try
        {
            return await call(engine);
        }
        catch (LedgerUnavailableException error)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, error.Message));
        }
        catch (LedgerWrongOwnerException error)
        {
            var refusal = RefusalList.ToProto(error.Refusal, engine.Ownership.Cell);
            var trailers = new Metadata { { LedgerCells.RefusalTrailer, refusal.ToByteArray() } };
            throw new RpcException(new Status(StatusCode.Aborted, error.Message), trailers);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Cancelled, "The call was cancelled; transfers already queued may still commit, so resubmit with the same ids to learn their outcome."));
        }
        catch (UnreachableException error)
        {
            LogInternal(error, context.Method);
            throw new RpcException(new Status(StatusCode.Internal, "The ledger refused to write a batch that broke an invariant; nothing was written."));
        }
    }

    private static void CheckCount(string field, int count, int max)
    {
        if (count > max)
        {
            throw Invalid(field, Invariant($"holds {count} items; at most {max} per call"));
        }
    }

    private static RpcException Invalid(string field, string message) =>
        new(new Status(StatusCode.InvalidArgument, $"{field}: {message}."));

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(EventId = 1421, Level = LogLevel.Error, Message = "A {IdNamespace} transfer was refused because its id {TransferId} is already used by another transfer; see docs/runbooks/alerts.md#bulwarkledgeridconflict")]
    private partial void LogBankIdConflict(string idNamespace, string transferId);

    [LoggerMessage(EventId = 1422, Level = LogLevel.Warning, Message = "Transfer {TransferId} refused: its id is not in the namespace the caller declared ({IdNamespace})")]
    private partial void LogNamespaceMismatch(string idNamespace, string transferId);

    [LoggerMessage(EventId = 1420, Level = LogLevel.Error, Message = "Ledger call {Method} failed on a broken invariant")]
    private partial void LogInternal(Exception error, string method);

    /// <summary>The refusals of one reply, one per partition, counted as they are collected.</summary>
    private sealed class RefusalList(LedgerEngine engine)
    {
        private readonly Dictionary<int, Cells.LedgerRefusal> _byPartition = [];

        public void Add(Cells.LedgerRefusal? refusal)
        {
            if (refusal is { } value && _byPartition.TryAdd(value.Partition, value))
            {
                engine.Metrics.PartitionRefused(value.Reason);
            }
        }

        public IEnumerable<PartitionRefusal> ToProto() => _byPartition.Values.Select(refusal => ToProto(refusal, engine.Ownership.Cell));

        public static PartitionRefusal ToProto(Cells.LedgerRefusal refusal, string cell) => new()
        {
            Partition = refusal.Partition < 0 ? UnknownPartition : (uint)refusal.Partition,
            Reason = refusal.Reason,
            OwnerCell = refusal.OwnerCell,
            OwnerEpoch = (ulong)Math.Max(refusal.OwnerEpoch, 0),
            Cell = cell,
        };
    }
}
