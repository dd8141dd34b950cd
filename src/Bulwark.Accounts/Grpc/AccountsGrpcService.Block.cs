using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Storage;
using Bulwark.Accounts.Validation;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Accounts.Grpc;

internal sealed partial class AccountsGrpcService
{
    public override async Task<CurrentAccount> SetAccountBlocked(SetAccountBlockedRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var accountId = RequestFields.Id(request.AccountId, "account_id");
        var reason = request.Blocked ? BlockReason(request.Reason) : "";
        var cancellationToken = context.CancellationToken;
        var account = await OwnedAccountAsync(customerId, accountId, cancellationToken);
        if (account.Blocked == request.Blocked && account.BlockedReason == reason)
        {
            return ToProto(account);
        }
        if (!await store.SetAccountBlockedAsync(accountId, request.Blocked, reason, cancellationToken))
        {
            throw AccountsErrors.NotFound($"There is no account {accountId}.");
        }
        LogAccountBlocked(accountId, request.Blocked);
        return ToProto(account with { Blocked = request.Blocked, BlockedReason = reason });
    }

    /// <summary>No money leaves a blocked account; the customer is told to get in touch, never why.</summary>
    private static void ThrowIfBlocked(CurrentAccountRecord account)
    {
        if (account.Blocked)
        {
            throw AccountsErrors.FailedPrecondition("account blocked: no money can leave this account until the bank unblocks it; contact us through Help.");
        }
    }

    private static string BlockReason(string value)
    {
        var reason = value.Trim();
        if (reason.Length is 0 or > AccountsLimits.BlockReasonLengthMax)
        {
            throw AccountsErrors.Invalid("reason", $"must say why the account is blocked, in 1 to {AccountsLimits.BlockReasonLengthMax} characters");
        }
        return reason;
    }

    [LoggerMessage(EventId = 2030, Level = LogLevel.Information, Message = "Account {AccountId} blocked: {Blocked}")]
    private partial void LogAccountBlocked(string accountId, bool blocked);
}
