using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Security;
using Bulwark.Accounts.Storage;
using Bulwark.Accounts.Telemetry;
using Bulwark.Accounts.Validation;
using Bulwark.Platform.Security;
using Microsoft.Extensions.Logging;

namespace Bulwark.Accounts.Grpc;

/// <summary>
/// The accounts service's gRPC contract (accounts.proto). Split by feature into partial files:
/// customers and login, pots and money movements, payments, cards. Every request is validated
/// field by field before anything is read or written.
/// </summary>
internal sealed partial class AccountsGrpcService(
    IAccountsStore store,
    LedgerGateway ledger,
    PasswordHasher passwordHasher,
    PasswordHashingQueue passwordHashing,
    CardTokeniser cardTokeniser,
    CustomerTransferIds transferIds,
    AccountsOptions options,
    AccountsMetrics metrics,
    TimeProvider time,
    ILogger<AccountsGrpcService> logger,
    BankCredits bankCredits,
    IApprovalVerifier approvalVerifier) : Protos.Accounts.AccountsBase
{
    public const string CurrencyDefault = "GBP";
    public const string CurrentAccountName = "Current account";

    private long NowUnixMs() => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Version 7 UUIDs sort by creation time, which keeps the stores' indexes compact.</summary>
    private string NewId() => Guid.CreateVersion7(time.GetUtcNow()).ToString("D");

    /// <summary>
    /// Loads a current account for a customer: NOT_FOUND when there is none, PERMISSION_DENIED when
    /// it belongs to someone else.
    /// </summary>
    private async Task<CurrentAccountRecord> OwnedAccountAsync(string customerId, string accountId, CancellationToken cancellationToken)
    {
        var account = await store.GetCurrentAccountAsync(accountId, cancellationToken)
            ?? throw AccountsErrors.NotFound($"There is no current account {accountId}.");
        if (account.CustomerId != customerId)
        {
            throw AccountsErrors.PermissionDenied($"Current account {accountId} belongs to another customer.");
        }
        return account;
    }

    private async Task<CustomerRecord> CustomerAsync(string customerId, CancellationToken cancellationToken) =>
        await store.GetCustomerAsync(customerId, cancellationToken)
            ?? throw AccountsErrors.NotFound($"There is no customer {customerId}.");

    /// <summary>A request's identity for idempotency: a hash of its kind and every field that shapes it.</summary>
    private static string Fingerprint(params string[] fields)
    {
        // Fields never contain a newline (ids, digits and validated text), so joining on one is unambiguous.
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', fields)));
        return Convert.ToHexStringLower(hash);
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static Customer ToProto(CustomerRecord customer) => new()
    {
        CustomerId = customer.CustomerId,
        Name = customer.Name,
        Email = customer.Email,
        CreatedAtUnixMs = customer.CreatedAtUnixMs,
        Synthetic = customer.Synthetic,
    };

    private static CurrentAccount ToProto(CurrentAccountRecord account) => new()
    {
        AccountId = account.AccountId,
        CustomerId = account.CustomerId,
        SortCode = account.SortCode,
        AccountNumber = account.AccountNumber,
        Currency = account.Currency,
        OverdraftLimit = account.OverdraftLimit,
        LedgerAccountId = account.LedgerAccountId,
        Name = account.Name,
        Blocked = account.Blocked,
        BlockedReason = account.BlockedReason,
    };

    private static Pot ToProto(PotRecord pot) => new()
    {
        PotId = pot.PotId,
        CustomerId = pot.CustomerId,
        AccountId = pot.AccountId,
        Name = pot.Name,
        Currency = pot.Currency,
        LedgerAccountId = pot.LedgerAccountId,
        GoalAmount = pot.GoalAmount,
    };

    private static Card ToProto(CardRecord card, CurrentAccountRecord account) => new()
    {
        CardId = card.CardId,
        CustomerId = card.CustomerId,
        AccountId = card.AccountId,
        LastFour = card.LastFour,
        ExpiryMonth = card.ExpiryMonth,
        ExpiryYear = card.ExpiryYear,
        // What authorisations and the app act on: frozen by either; who froze it apart.
        Frozen = card.Frozen || card.FrozenByStaff,
        FrozenByStaff = card.FrozenByStaff,
        LedgerAccountId = account.LedgerAccountId,
        Currency = account.Currency,
        AccountBlocked = account.Blocked,
    };

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Created customer {CustomerId} with current account {AccountId} (ledger {LedgerAccountId})")]
    private partial void LogCustomerCreated(string customerId, string accountId, string ledgerAccountId);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "The ledger refused transfer {TransferId}: {Status}")]
    private partial void LogTransferRefused(string transferId, string status);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Adopted transfer {TransferId}, made before derived transfer ids under the raw idempotency key, as customer {CustomerId}'s movement: the retry is answered as a duplicate")]
    private partial void LogRawKeyTransferAdopted(string transferId, string customerId);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "Card {CardId} points at current account {AccountId}, which does not exist")]
    private partial void LogCardWithoutAccount(string cardId, string accountId);
}
