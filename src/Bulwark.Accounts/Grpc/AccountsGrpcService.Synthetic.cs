using System.Globalization;
using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Storage;
using Bulwark.Accounts.Validation;
using Grpc.Core;

namespace Bulwark.Accounts.Grpc;

/// <summary>
/// The coherence checker's synthetic customers: real records, so that the checker logs in and reads
/// through the app API as a customer does, marked <see cref="CustomerRecord.Synthetic"/> so that no
/// list, lookup or report of customers shows them (docs/internals/coherence.md).
/// </summary>
internal sealed partial class AccountsGrpcService
{
    /// <summary>The domain of every synthetic customer's email: <c>.invalid</c> can never be a customer's real address (RFC 2606).</summary>
    public const string SyntheticEmailDomain = "synthetic.bulwark.invalid";

    /// <summary>
    /// The top 64 bits of every synthetic ledger account id (Bulwark.Coherence SyntheticAccounts):
    /// a synthetic customer's current account can only be one of these, never a customer's (random) one.
    /// </summary>
    public const ulong SyntheticLedgerAccountIdHigh = 0x42_75_6C_77_61_72_6B_C0UL;

    private const int SyntheticKeyLengthMax = 40;

    public override async Task<CreateCustomerResponse> EnsureSyntheticCustomer(EnsureSyntheticCustomerRequest request, ServerCallContext context)
    {
        var key = SyntheticKey(request.Key);
        var ledgerAccountId = SyntheticLedgerAccount(request.LedgerAccountId);
        var currency = RequestFields.Currency(request.Currency, "currency", CurrencyDefault);
        var password = RequestFields.Password(request.Password, "password", optional: false);
        if (password.Length < AccountsLimits.SyntheticPasswordLengthMin)
        {
            // Hashed with few iterations (AccountsLimits.SyntheticPasswordIterations): only a long random secret may be.
            throw AccountsErrors.Invalid("password", string.Create(CultureInfo.InvariantCulture,
                $"a synthetic customer's password is a random secret of at least {AccountsLimits.SyntheticPasswordLengthMin} characters"));
        }
        var cancellationToken = context.CancellationToken;
        var email = $"coherence-{key}@{SyntheticEmailDomain}";
        var now = NowUnixMs();
        var customer = await store.FindCustomerByEmailAsync(email, cancellationToken);
        if (customer is null)
        {
            customer = await CreateSyntheticAsync(key, email, ledgerAccountId, currency, now, cancellationToken);
        }
        if (!customer.Synthetic)
        {
            // Never reached through the checker (.invalid is nobody's address): a customer who is not synthetic is never taken over.
            throw AccountsErrors.AlreadyExists("A customer who is not synthetic has this email.");
        }
        var account = (await store.ListCurrentAccountsAsync(customer.CustomerId, cancellationToken)).FirstOrDefault();
        if (account is null || account.LedgerAccountId != ledgerAccountId)
        {
            throw AccountsErrors.FailedPrecondition($"The synthetic customer {key} holds another ledger account.");
        }
        var credential = await HashingAsync(() => passwordHasher.HashSynthetic(customer.CustomerId, password, now), cancellationToken);
        await store.SetCredentialAsync(credential, cancellationToken);
        return new CreateCustomerResponse { Customer = ToProto(customer), Account = ToProto(account) };
    }

    /// <summary>Inserts the synthetic customer and its current account (no ledger call: the checker made the ledger account); a concurrent insert of the same key wins.</summary>
    private async Task<CustomerRecord> CreateSyntheticAsync(string key, string email, string ledgerAccountId, string currency, long now, CancellationToken cancellationToken)
    {
        var customer = new CustomerRecord(NewId(), $"Coherence check {key}", email, email, now, Synthetic: true);
        for (var attempt = 0; attempt < AccountsLimits.AccountNumberAttemptsMax; attempt++)
        {
            var account = new CurrentAccountRecord(NewId(), customer.CustomerId, CurrentAccountName, options.SortCode,
                NewAccountNumber(), currency, 0, ledgerAccountId, now);
            switch (await store.CreateCustomerAsync(customer, null, account, cancellationToken))
            {
                case CreateCustomerOutcome.Created:
                    LogSyntheticCustomerCreated(customer.CustomerId, ledgerAccountId);
                    return customer;
                case CreateCustomerOutcome.EmailTaken:
                    return await store.FindCustomerByEmailAsync(email, cancellationToken)
                        ?? throw AccountsErrors.Unavailable("The synthetic customer was being created at the same time; try again.");
                case CreateCustomerOutcome.AccountNumberTaken:
                    continue;
            }
        }
        throw AccountsErrors.Unavailable("No free account number was found; try again.");
    }

    private static string SyntheticKey(string value)
    {
        if (value.Length is 0 or > SyntheticKeyLengthMax || !value.All(c => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c) || c == '-'))
        {
            throw AccountsErrors.Invalid("key", string.Create(CultureInfo.InvariantCulture, $"must be 1 to {SyntheticKeyLengthMax} of a-z, 0-9 and '-'"));
        }
        return value;
    }

    private static string SyntheticLedgerAccount(string value)
    {
        if (value.Length != 32 || !value.All(char.IsAsciiHexDigit)
            || (ulong)(LedgerIds.FromHex(value) >> 64) != SyntheticLedgerAccountIdHigh)
        {
            throw AccountsErrors.Invalid("ledger_account_id", "must be 32 hex digits of a synthetic ledger account (beginning 42756c7761726bc0)");
        }
        return value.ToLowerInvariant();
    }

    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 2005, Level = Microsoft.Extensions.Logging.LogLevel.Information,
        Message = "Created synthetic customer {CustomerId} (coherence checker) holding ledger account {LedgerAccountId}")]
    private partial void LogSyntheticCustomerCreated(string customerId, string ledgerAccountId);
}
