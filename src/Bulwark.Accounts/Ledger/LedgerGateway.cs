using Bulwark.Accounts.Validation;
using Bulwark.Ledger.Protos;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Accounts.Ledger;

/// <summary>
/// The accounts service's calls to the ledger: each with a deadline (the caller's or
/// <see cref="AccountsOptions.LedgerCallTimeout"/>, whichever is sooner), and a ledger that does
/// not answer turned into UNAVAILABLE — safe to retry, because every write carries its own id.
/// </summary>
internal sealed partial class LedgerGateway(Bulwark.Ledger.Protos.Ledger.LedgerClient client, AccountsOptions options, ILogger<LedgerGateway> logger)
{
    /// <summary>Creates a customer ledger account; an account that already exists with this id and body is fine.</summary>
    public async Task CreateAccountAsync(UInt128 id, string currency, uint code, long overdraftLimit, ServerCallContext context)
    {
        var account = new Account
        {
            Id = LedgerIds.ToProto(id),
            Currency = currency,
            Code = code,
            Flags = (uint)AccountFlags.DebitsMustNotExceedCredits,
            OverdraftLimit = overdraftLimit,
        };
        var response = await CallAsync(
            call => client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { account } }, call),
            "CreateAccounts", context);
        var status = response.Results.Count == 1 ? response.Results[0].Status : CreateAccountStatus.Unspecified;
        switch (status)
        {
            case CreateAccountStatus.Ok:
                return;
            case CreateAccountStatus.UnknownCurrency:
                throw AccountsErrors.Invalid("currency", $"'{currency}' is not a currency the ledger holds");
            default:
                LogLedgerRefusedAccount(LedgerIds.ToHex(id), status.ToString());
                throw AccountsErrors.Internal($"The ledger refused to open the account ({status}).");
        }
    }

    /// <summary>
    /// Submits one transfer and returns its result, whatever the status. Always declared in the
    /// customer namespace: everything this service sends the ledger follows a customer's request,
    /// and the ledger refuses a new id outside the declared namespace.
    /// </summary>
    public Task<TransferResult> SubmitTransferAsync(Transfer transfer, ServerCallContext context) =>
        SubmitTransferAsync(transfer, IdNamespace.Customer, context);

    /// <summary>
    /// As <see cref="SubmitTransferAsync(Transfer, ServerCallContext)"/> in another namespace: the
    /// bank's, for a credit two staff members approved (CreditFromBank), whose id is the approval's.
    /// </summary>
    public async Task<TransferResult> SubmitTransferAsync(Transfer transfer, IdNamespace idNamespace, ServerCallContext context)
    {
        var response = await CallAsync(
            call => client.SubmitTransfersAsync(new SubmitTransfersRequest { IdNamespace = idNamespace, Transfers = { transfer } }, call),
            "SubmitTransfers", context);
        if (response.Results.Count != 1)
        {
            throw AccountsErrors.Internal($"The ledger answered {response.Results.Count} results for one transfer.");
        }
        return response.Results[0];
    }

    /// <summary>
    /// Opens one of the bank's own ledger accounts: no flags, because the bank's side of a credit
    /// may go below zero (the books show what the bank gave away). Opening it again is fine.
    /// </summary>
    public async Task CreateBankAccountAsync(UInt128 id, string currency, ServerCallContext context)
    {
        var account = new Account { Id = LedgerIds.ToProto(id), Currency = currency, Code = LedgerCodes.BankAccount };
        var response = await CallAsync(
            call => client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { account } }, call),
            "CreateAccounts", context);
        var status = response.Results.Count == 1 ? response.Results[0].Status : CreateAccountStatus.Unspecified;
        if (status == CreateAccountStatus.UnknownCurrency)
        {
            throw AccountsErrors.Invalid("currency", $"'{currency}' is not a currency the ledger holds");
        }
        if (status != CreateAccountStatus.Ok)
        {
            LogLedgerRefusedAccount(LedgerIds.ToHex(id), status.ToString());
            throw AccountsErrors.Internal($"The ledger refused to open the bank's account ({status}).");
        }
    }

    /// <summary>The transfer with this id, or null when the ledger holds none.</summary>
    public async Task<Transfer?> GetTransferAsync(UInt128 id, ServerCallContext context)
    {
        var response = await CallAsync(
            call => client.GetTransfersAsync(new GetTransfersRequest { Ids = { LedgerIds.ToProto(id) } }, call),
            "GetTransfers", context);
        return response.Transfers.Count == 1 ? response.Transfers[0] : null;
    }

    /// <summary>
    /// What an account can still pay out: posted credits less posted and pending debits, plus its
    /// overdraft limit — the ledger's own test for a debit.
    /// </summary>
    public async Task<long> GetSpendableAsync(UInt128 id, ServerCallContext context)
    {
        var account = await GetAccountAsync(id, context);
        return checked(account.CreditsPosted - account.DebitsPosted - account.DebitsPending + account.OverdraftLimit);
    }

    /// <summary>The account's own money: posted credits less posted and pending debits, without any overdraft.</summary>
    public async Task<long> GetBalanceAsync(UInt128 id, ServerCallContext context)
    {
        var account = await GetAccountAsync(id, context);
        return checked(account.CreditsPosted - account.DebitsPosted - account.DebitsPending);
    }

    private async Task<Account> GetAccountAsync(UInt128 id, ServerCallContext context)
    {
        var response = await CallAsync(
            call => client.GetAccountsAsync(new GetAccountsRequest { Ids = { LedgerIds.ToProto(id) } }, call),
            "GetAccounts", context);
        if (response.Accounts.Count != 1)
        {
            throw AccountsErrors.Internal($"The ledger does not know account {LedgerIds.ToHex(id)}.");
        }
        return response.Accounts[0];
    }

    private async Task<T> CallAsync<T>(Func<CallOptions, AsyncUnaryCall<T>> call, string method, ServerCallContext context)
    {
        // Deadlines are wall-clock network timeouts, not business time, so they use the real clock
        // even when the service's TimeProvider is a test double.
        var ownDeadline = DateTime.UtcNow + options.LedgerCallTimeout;
        var deadline = context.Deadline < ownDeadline ? context.Deadline : ownDeadline;
        try
        {
            return await call(new CallOptions(deadline: deadline, cancellationToken: context.CancellationToken));
        }
        catch (RpcException error) when (!context.CancellationToken.IsCancellationRequested)
        {
            LogLedgerCallFailed(method, error.StatusCode.ToString(), error.Status.Detail);
            throw AccountsErrors.Unavailable($"The ledger did not answer ({error.StatusCode}); retrying with the same request is safe.");
        }
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Ledger call {Method} failed: {StatusCode} {Detail}")]
    private partial void LogLedgerCallFailed(string method, string statusCode, string detail);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Error, Message = "The ledger refused to create account {LedgerAccountId}: {Status}")]
    private partial void LogLedgerRefusedAccount(string ledgerAccountId, string status);
}
