using System.Diagnostics;
using System.Globalization;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Telemetry;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Grpc;

/// <summary>
/// The ledger's gRPC face: request-level checks (sizes, required fields) become INVALID_ARGUMENT
/// naming the field; per-item outcomes are statuses in the reply; a batch that could not commit is
/// UNAVAILABLE (retriable: nothing was written); a broken invariant is INTERNAL.
/// </summary>
internal sealed partial class LedgerGrpcService(LedgerEngine engine, ILogger<LedgerGrpcService> logger) : Protos.Ledger.LedgerBase
{
    public override Task<CreateAccountsResponse> CreateAccounts(CreateAccountsRequest request, ServerCallContext context) =>
        Guard(context, async () =>
        {
            CheckCount("accounts", request.Accounts.Count, LedgerLimits.CreateAccountsMax);
            var results = await engine.CreateAccountsAsync(request.Accounts.Select(account => account.ToLedger()).ToArray(), context.CancellationToken);
            var response = new CreateAccountsResponse();
            foreach (var result in results)
            {
                response.Results.Add(new CreateAccountResult { Status = result.Status, Duplicate = result.Duplicate });
            }
            return response;
        });

    public override Task<SubmitTransfersResponse> SubmitTransfers(SubmitTransfersRequest request, ServerCallContext context) =>
        Guard(context, async () =>
        {
            CheckCount("transfers", request.Transfers.Count, LedgerLimits.SubmitTransfersMax);
            var declared = request.IdNamespace;
            var transfers = request.Transfers.Select(transfer => transfer.ToLedger()).ToArray();
            var refused = await RefusedForNamespaceAsync(declared, transfers, context.CancellationToken);
            var admitted = refused is null ? transfers : transfers.Where((_, index) => !refused[index]).ToArray();
            var results = await engine.SubmitAsync(admitted, context.CancellationToken);
            var response = new SubmitTransfersResponse();
            var next = 0;
            for (var index = 0; index < transfers.Length; index++)
            {
                if (refused is not null && refused[index])
                {
                    response.Results.Add(new TransferResult { Status = TransferStatus.IdNamespaceMismatch });
                    continue;
                }
                var result = results[next++];
                if (result.Status == TransferStatus.IdAlreadyUsedWithDifferentBody)
                {
                    IdConflict(declared, transfers[index].Id);
                }
                var reply = new TransferResult { Status = result.Status, Duplicate = result.Duplicate };
                if (result.Transfer is not null)
                {
                    reply.Transfer = result.Transfer.ToProto();
                }
                response.Results.Add(reply);
            }
            return response;
        });

    /// <summary>
    /// Which transfers break the namespace rule (null: none). A new transfer's id must carry the
    /// request's declared namespace in its top byte, and a customer's transfer may not be forced.
    /// An id that is already committed is let through: the engine answers it as it always has
    /// (duplicate, or "already used"), so a retry of a transfer made before namespaces existed, or
    /// made with the same id, still learns its outcome — and nothing new is written under it.
    /// </summary>
    private async Task<bool[]?> RefusedForNamespaceAsync(IdNamespace declared, LedgerTransfer[] transfers, CancellationToken cancellationToken)
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
    private void IdConflict(IdNamespace declared, UInt128 id)
    {
        engine.Metrics.IdConflict(declared);
        if (declared is IdNamespace.Card or IdNamespace.Bank)
        {
            LogBankIdConflict(LedgerMetrics.NamespaceName(declared), Invariant($"{id:x32}"));
        }
    }

    public override Task<GetAccountsResponse> GetAccounts(GetAccountsRequest request, ServerCallContext context) =>
        Guard(context, async () =>
        {
            CheckCount("ids", request.Ids.Count, LedgerLimits.LookupIdsMax);
            var ids = request.Ids.Select(id => id.ToUInt128()).ToArray();
            var found = await engine.GetAccountsAsync(ids, context.CancellationToken);
            var response = new GetAccountsResponse();
            var foundIds = new HashSet<UInt128>(found.Count);
            foreach (var account in found)
            {
                foundIds.Add(account.Id);
                response.Accounts.Add(account.ToProto());
            }
            response.Missing.AddRange(ids.Where(id => !foundIds.Contains(id)).Select(id => id.ToProto()));
            return response;
        });

    public override Task<GetTransfersResponse> GetTransfers(GetTransfersRequest request, ServerCallContext context) =>
        Guard(context, async () =>
        {
            CheckCount("ids", request.Ids.Count, LedgerLimits.LookupIdsMax);
            var ids = request.Ids.Select(id => id.ToUInt128()).ToArray();
            var found = await engine.GetTransfersAsync(ids, context.CancellationToken);
            var response = new GetTransfersResponse();
            var foundIds = new HashSet<UInt128>(found.Count);
            foreach (var transfer in found)
            {
                foundIds.Add(transfer.Id);
                response.Transfers.Add(transfer.ToProto());
            }
            response.Missing.AddRange(ids.Where(id => !foundIds.Contains(id)).Select(id => id.ToProto()));
            return response;
        });

    public override Task<ListAccountTransfersResponse> ListAccountTransfers(ListAccountTransfersRequest request, ServerCallContext context) =>
        Guard(context, async () =>
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
            var page = await engine.ListAccountTransfersAsync(accountId, request.Cursor, request.Limit, request.SinceUnixMs, context.CancellationToken)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"account_id: there is no ledger account {accountId:x32}."));
            var response = new ListAccountTransfersResponse { NextCursor = page.NextCursor };
            response.Transfers.AddRange(page.Transfers.Select(transfer => transfer.ToProto()));
            return response;
        });

    private async Task<T> Guard<T>(ServerCallContext context, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (LedgerUnavailableException error)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, error.Message));
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
}
