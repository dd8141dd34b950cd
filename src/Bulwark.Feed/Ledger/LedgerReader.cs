using Bulwark.Ledger.Protos;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Feed.Ledger;

/// <summary>
/// The feed's reads from the ledger, each with a deadline (the caller's or
/// <see cref="FeedOptions.LedgerCallTimeout"/>, whichever is sooner). Ledger failures become
/// UNAVAILABLE, except a refused cursor (INVALID_ARGUMENT) and an unknown account (NOT_FOUND).
/// </summary>
internal sealed partial class LedgerReader(LedgerClient client, FeedOptions options, ILogger<LedgerReader> logger)
{
    public async Task<ListAccountTransfersResponse> ListTransfersAsync(UInt128 accountId, string cursor, int limit, long sinceUnixMs, ServerCallContext context)
    {
        var request = new ListAccountTransfersRequest
        {
            AccountId = LedgerIds.ToProto(accountId),
            Cursor = cursor,
            Limit = limit,
            SinceUnixMs = sinceUnixMs,
        };
        try
        {
            return await client.ListAccountTransfersAsync(request, CallOptions(context));
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.InvalidArgument && cursor.Length > 0)
        {
            throw FeedErrors.Invalid("cursor", "is no longer valid; start again from the first page");
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            throw FeedErrors.NotFound($"There is no ledger account {LedgerIds.ToHex(accountId)}.");
        }
        catch (RpcException error) when (!context.CancellationToken.IsCancellationRequested)
        {
            throw Failed("ListAccountTransfers", error);
        }
    }

    /// <summary>The account, or null when the ledger does not know it.</summary>
    public async Task<Account?> GetAccountAsync(UInt128 accountId, ServerCallContext context)
    {
        try
        {
            var response = await client.GetAccountsAsync(new GetAccountsRequest { Ids = { LedgerIds.ToProto(accountId) } }, CallOptions(context));
            return response.Accounts.FirstOrDefault(account => LedgerIds.FromProto(account.Id) == accountId);
        }
        catch (RpcException error) when (!context.CancellationToken.IsCancellationRequested)
        {
            throw Failed("GetAccounts", error);
        }
    }

    private CallOptions CallOptions(ServerCallContext context)
    {
        // Deadlines are wall-clock network timeouts, not business time: they use the real clock
        // even when the service's TimeProvider is a test double.
        var ownDeadline = DateTime.UtcNow + options.LedgerCallTimeout;
        var deadline = context.Deadline < ownDeadline ? context.Deadline : ownDeadline;
        return new CallOptions(deadline: deadline, cancellationToken: context.CancellationToken);
    }

    private RpcException Failed(string method, RpcException error)
    {
        LogLedgerCallFailed(method, error.StatusCode.ToString(), error.Status.Detail);
        return FeedErrors.Unavailable($"The ledger did not answer ({error.StatusCode}); try again.");
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Ledger call {Method} failed: {StatusCode} {Detail}")]
    private partial void LogLedgerCallFailed(string method, string statusCode, string detail);
}
