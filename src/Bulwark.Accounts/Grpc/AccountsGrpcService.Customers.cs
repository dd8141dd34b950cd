using System.Globalization;
using System.Security.Cryptography;
using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Storage;
using Bulwark.Accounts.Validation;
using Grpc.Core;

namespace Bulwark.Accounts.Grpc;

internal sealed partial class AccountsGrpcService
{
    public override async Task<CreateCustomerResponse> CreateCustomer(CreateCustomerRequest request, ServerCallContext context)
    {
        var name = RequestFields.Name(request.Name, "name", AccountsLimits.NameLengthMax);
        var (email, emailNormalised) = RequestFields.Email(request.Email, "email");
        var password = RequestFields.Password(request.Password, "password", optional: true);
        var currency = RequestFields.Currency(request.Currency, "currency", CurrencyDefault);
        var overdraftLimit = RequestFields.Amount(request.OverdraftLimit, "overdraft_limit", AccountsLimits.OverdraftLimitMax, zeroAllowed: true);
        var cancellationToken = context.CancellationToken;
        if (await store.FindCustomerByEmailAsync(emailNormalised, cancellationToken) is not null)
        {
            throw AccountsErrors.AlreadyExists("A customer with this email already exists.");
        }

        var now = NowUnixMs();
        var customer = new CustomerRecord(NewId(), name, email, emailNormalised, now);
        // Without a password nothing is hashed: seeding thousands of demo customers stays cheap.
        var credential = password.Length == 0 ? null : await HashingAsync(() => passwordHasher.Hash(customer.CustomerId, password, now), cancellationToken);

        // The ledger account is opened first: a crash after it leaves an empty ledger account that
        // nothing points at (harmless), never a customer row pointing at a missing ledger account.
        var ledgerAccountId = LedgerIds.NewRandom();
        await ledger.CreateAccountAsync(ledgerAccountId, currency, LedgerCodes.CurrentAccount, overdraftLimit, context);

        for (var attempt = 0; attempt < AccountsLimits.AccountNumberAttemptsMax; attempt++)
        {
            var account = new CurrentAccountRecord(NewId(), customer.CustomerId, CurrentAccountName, options.SortCode,
                NewAccountNumber(), currency, overdraftLimit, LedgerIds.ToHex(ledgerAccountId), now);
            switch (await store.CreateCustomerAsync(customer, credential, account, cancellationToken))
            {
                case CreateCustomerOutcome.Created:
                    LogCustomerCreated(customer.CustomerId, account.AccountId, account.LedgerAccountId);
                    return new CreateCustomerResponse { Customer = ToProto(customer), Account = ToProto(account) };
                case CreateCustomerOutcome.EmailTaken:
                    throw AccountsErrors.AlreadyExists("A customer with this email already exists.");
                case CreateCustomerOutcome.AccountNumberTaken:
                    continue;
            }
        }
        throw AccountsErrors.Unavailable("No free account number was found; try again.");
    }

    private static string NewAccountNumber() =>
        RandomNumberGenerator.GetInt32(0, 100_000_000).ToString("D8", CultureInfo.InvariantCulture);

    public override async Task<AuthenticateResponse> Authenticate(AuthenticateRequest request, ServerCallContext context)
    {
        var (_, emailNormalised) = RequestFields.Email(request.Email, "email");
        if (request.Password.Length == 0)
        {
            throw AccountsErrors.Invalid("password", "is required");
        }
        if (request.Password.Length > AccountsLimits.PasswordLengthMax)
        {
            throw AccountsErrors.Invalid("password", string.Create(CultureInfo.InvariantCulture, $"must be at most {AccountsLimits.PasswordLengthMax} characters"));
        }
        var cancellationToken = context.CancellationToken;
        var customer = await store.FindCustomerByEmailAsync(emailNormalised, cancellationToken);
        var credential = customer is null ? null : await store.GetCredentialAsync(customer.CustomerId, cancellationToken);
        // An unknown email, a customer without a password and a wrong password all hash once and
        // answer the same, so neither the reply nor its timing tells which emails exist.
        var verified = await HashingAsync(() => passwordHasher.Verify(request.Password, credential), cancellationToken);
        if (customer is null || !verified)
        {
            return new AuthenticateResponse { Authenticated = false };
        }
        // An upgrade that finds the queue full waits for a later login; the login itself succeeded.
        // A synthetic customer's hash is cheap on purpose (a random secret): never upgraded.
        if (credential is not null && !customer.Synthetic && passwordHasher.NeedsRehash(credential)
            && passwordHashing.TryRun(() => passwordHasher.Hash(customer.CustomerId, request.Password, NowUnixMs()), cancellationToken, out var rehash))
        {
            await store.SetCredentialAsync(await rehash, cancellationToken);
            metrics.RecordPasswordRehash();
        }
        return new AuthenticateResponse { Authenticated = true, CustomerId = customer.CustomerId };
    }

    /// <summary>
    /// Runs a password hash on the hashing threads (never the request's), or answers
    /// RESOURCE_EXHAUSTED at once when too many are waiting: the edge turns that into 503 with Retry-After.
    /// </summary>
    private Task<T> HashingAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        if (passwordHashing.TryRun(work, cancellationToken, out var task))
        {
            return task;
        }
        metrics.RecordPasswordHashingRejected();
        throw AccountsErrors.ResourceExhausted("Too many logins are waiting for a password check; try again in a second.");
    }

    public override async Task<Customer> GetCustomer(GetCustomerRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        return ToProto(await CustomerAsync(customerId, context.CancellationToken));
    }

    public override async Task<Customer> FindCustomerByEmail(FindCustomerByEmailRequest request, ServerCallContext context)
    {
        var (_, emailNormalised) = RequestFields.Email(request.Email, "email");
        var customer = await store.FindCustomerByEmailAsync(emailNormalised, context.CancellationToken);
        // Operators' tools never see the coherence checker's synthetic customers.
        if (customer is null || customer.Synthetic)
        {
            throw AccountsErrors.NotFound("There is no customer with this email.");
        }
        return ToProto(customer);
    }

    public override async Task<ListCustomersResponse> ListCustomers(ListCustomersRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > AccountsLimits.ListCustomersLimitMax)
        {
            throw AccountsErrors.Invalid("limit", string.Create(CultureInfo.InvariantCulture,
                $"must be 0 (default {AccountsLimits.ListCustomersLimitDefault}) to {AccountsLimits.ListCustomersLimitMax}, not {request.Limit}"));
        }
        // The cursor is the last customer id of the previous page: opaque to callers, checked like an id.
        var after = request.Cursor.Length == 0 ? null : RequestFields.Id(request.Cursor, "cursor");
        var limit = request.Limit == 0 ? AccountsLimits.ListCustomersLimitDefault : request.Limit;
        // One more than asked tells whether another page follows without a second query.
        var customers = await store.ListCustomersAsync(after, limit + 1, context.CancellationToken);
        var response = new ListCustomersResponse();
        foreach (var customer in customers.Take(limit))
        {
            response.Customers.Add(ToProto(customer));
        }
        if (customers.Count > limit)
        {
            response.NextCursor = customers[limit - 1].CustomerId;
        }
        return response;
    }

    public override async Task<SearchCustomersResponse> SearchCustomers(SearchCustomersRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > AccountsLimits.SearchCustomersLimitMax)
        {
            throw AccountsErrors.Invalid("limit", string.Create(CultureInfo.InvariantCulture,
                $"must be 0 (default {AccountsLimits.SearchCustomersLimitDefault}) to {AccountsLimits.SearchCustomersLimitMax}, not {request.Limit}"));
        }
        var name = SearchText(request.Name, "name", AccountsLimits.SearchNameLengthMin, AccountsLimits.NameLengthMax);
        var email = SearchText(request.Email, "email", AccountsLimits.SearchEmailLengthMin, AccountsLimits.EmailLengthMax);
        string? sortCode = null, accountNumber = null;
        if (request.SortCode.Length > 0 || request.AccountNumber.Length > 0)
        {
            // One without the other would name no account: both are required once either is given.
            sortCode = RequestFields.Digits(request.SortCode, "sort_code", 6, "040075");
            accountNumber = RequestFields.Digits(request.AccountNumber, "account_number", 8, "12345678");
        }
        var lastFour = request.CardLastFour.Length == 0 ? null : RequestFields.Digits(request.CardLastFour, "card_last_four", 4, "4242");
        if (name is null && email is null && sortCode is null && lastFour is null)
        {
            throw AccountsErrors.Invalid("name", "or another field (email, sort_code with account_number, card_last_four) is required: a search names something");
        }
        var limit = request.Limit == 0 ? AccountsLimits.SearchCustomersLimitDefault : request.Limit;
        // One more than asked tells whether there were more.
        var found = await store.SearchCustomersAsync(new CustomerQuery(name, email, sortCode, accountNumber, lastFour), limit + 1, context.CancellationToken);
        var response = new SearchCustomersResponse { More = found.Count > limit };
        foreach (var customer in found.Take(limit))
        {
            response.Customers.Add(ToProto(customer));
        }
        return response;
    }

    /// <summary>A search text: null when empty, trimmed, within its lengths.</summary>
    private static string? SearchText(string value, string field, int lengthMin, int lengthMax)
    {
        var text = value.Trim();
        if (text.Length == 0)
        {
            return null;
        }
        if (text.Length < lengthMin || text.Length > lengthMax)
        {
            throw AccountsErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be {lengthMin} to {lengthMax} characters to search for, not {text.Length}"));
        }
        return text;
    }

    public override async Task<ListAccountsResponse> ListAccounts(ListAccountsRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var cancellationToken = context.CancellationToken;
        await CustomerAsync(customerId, cancellationToken);
        var response = new ListAccountsResponse();
        foreach (var account in await store.ListCurrentAccountsAsync(customerId, cancellationToken))
        {
            response.Accounts.Add(ToProto(account));
        }
        foreach (var pot in await store.ListPotsAsync(customerId, cancellationToken))
        {
            response.Pots.Add(ToProto(pot));
        }
        return response;
    }

    public override async Task<AccountSummary> FindAccountByNumber(FindAccountByNumberRequest request, ServerCallContext context)
    {
        var sortCode = RequestFields.Digits(request.SortCode, "sort_code", 6, "040075");
        var accountNumber = RequestFields.Digits(request.AccountNumber, "account_number", 8, "12345678");
        var cancellationToken = context.CancellationToken;
        var account = await store.FindCurrentAccountByNumberAsync(sortCode, accountNumber, cancellationToken)
            ?? throw AccountsErrors.NotFound($"There is no account with sort code {sortCode} and account number {accountNumber}.");
        var holder = await CustomerAsync(account.CustomerId, cancellationToken);
        if (holder.Synthetic)
        {
            // Nobody pays the coherence checker's synthetic accounts: their balance is the checker's to know.
            throw AccountsErrors.NotFound($"There is no account with sort code {sortCode} and account number {accountNumber}.");
        }
        return new AccountSummary
        {
            AccountId = account.AccountId,
            HolderName = holder.Name,
            SortCode = account.SortCode,
            AccountNumber = account.AccountNumber,
            Currency = account.Currency,
        };
    }
}
