using Bulwark.Accounts.Protos;
using Bulwark.Feed.Protos;
using Grpc.Core;

namespace Bulwark.Edge.Tests.Fakes;

/// <summary>
/// An in-memory accounts service keeping the contract's rules: PERMISSION_DENIED for another
/// customer's things, NOT_FOUND for unknown ones, FAILED_PRECONDITION "insufficient funds", the
/// field trailer on INVALID_ARGUMENT, and idempotent movements by key.
/// </summary>
public sealed class FakeAccounts(FakeBank bank) : Bulwark.Accounts.Protos.Accounts.AccountsBase
{
    public const string Service = "accounts";

    public override async Task<AuthenticateResponse> Authenticate(AuthenticateRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        var customer = bank.Customers.FirstOrDefault(c => c.Email == request.Email && c.Password == request.Password);
        return customer is null ? new AuthenticateResponse() : new AuthenticateResponse { Authenticated = true, CustomerId = customer.CustomerId };
    }

    public override async Task<Customer> GetCustomer(GetCustomerRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        var customer = bank.Customers.FirstOrDefault(c => c.CustomerId == request.CustomerId)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"There is no customer {request.CustomerId}."));
        return new Customer { CustomerId = customer.CustomerId, Name = customer.Name, Email = customer.Email };
    }

    /// <summary>Name or email containing the text (any case), the account by number, the card by last four; every part given must match.</summary>
    public override async Task<SearchCustomersResponse> SearchCustomers(SearchCustomersRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            var found = bank.Customers.Where(customer =>
                (request.Name.Length == 0 || customer.Name.Contains(request.Name, StringComparison.OrdinalIgnoreCase))
                && (request.Email.Length == 0 || customer.Email.Contains(request.Email, StringComparison.OrdinalIgnoreCase))
                && (request.AccountNumber.Length == 0 || bank.Accounts.Any(a => a.CustomerId == customer.CustomerId && a.SortCode == request.SortCode && a.AccountNumber == request.AccountNumber))
                && (request.CardLastFour.Length == 0 || bank.Cards.Any(c => c.CustomerId == customer.CustomerId && c.LastFour == request.CardLastFour)));
            var response = new SearchCustomersResponse();
            response.Customers.AddRange(found.Select(customer => new Customer { CustomerId = customer.CustomerId, Name = customer.Name, Email = customer.Email }));
            return response;
        }
    }

    public override async Task<ListAccountsResponse> ListAccounts(ListAccountsRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            var response = new ListAccountsResponse();
            response.Accounts.AddRange(bank.Accounts.Where(a => a.CustomerId == request.CustomerId));
            response.Pots.AddRange(bank.Pots.Where(p => p.CustomerId == request.CustomerId));
            return response;
        }
    }

    public override async Task<Pot> CreatePot(CreatePotRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            var account = OwnedAccount(request.CustomerId, request.AccountId);
            var ledgerId = $"{bank.LedgerAccounts.Count + 0xc00:x32}";
            var pot = new Pot
            {
                PotId = Guid.NewGuid().ToString("D"),
                CustomerId = request.CustomerId,
                AccountId = account.AccountId,
                Name = request.Name,
                Currency = account.Currency,
                LedgerAccountId = ledgerId,
                GoalAmount = request.GoalAmount,
            };
            bank.Pots.Add(pot);
            bank.LedgerAccounts[ledgerId] = new FakeLedgerAccount(account.Currency, 0);
            bank.Feeds[ledgerId] = [];
            return pot;
        }
    }

    public override async Task<MoneyMovement> MoveMoney(MoveMoneyRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            bank.MoveMoneyRequests.Add(request);
            if (bank.Movements.TryGetValue(request.IdempotencyKey, out var earlier))
            {
                return new MoneyMovement(earlier) { Duplicate = true };
            }
            var pot = bank.Pots.FirstOrDefault(p => p.PotId == request.PotId)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"There is no pot {request.PotId}."));
            if (pot.CustomerId != request.CustomerId)
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, $"Pot {request.PotId} belongs to another customer."));
            }
            if (request.Currency != pot.Currency)
            {
                throw Invalid("currency", $"currency must be {pot.Currency}");
            }
            var account = bank.Accounts.Single(a => a.AccountId == pot.AccountId);
            var (from, to) = request.Direction == MoveDirection.IntoPot
                ? (account.LedgerAccountId, pot.LedgerAccountId)
                : (pot.LedgerAccountId, account.LedgerAccountId);
            var movement = Transfer(from, to, request.Amount, request.Currency, request.IdempotencyKey, pot.Name, "pot");
            bank.Movements[request.IdempotencyKey] = movement;
            return movement;
        }
    }

    public override async Task<MoneyMovement> PayAccount(PayAccountRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            if (bank.Movements.TryGetValue(request.IdempotencyKey, out var earlier))
            {
                return new MoneyMovement(earlier) { Duplicate = true };
            }
            var from = OwnedAccount(request.CustomerId, request.FromAccountId);
            if (from.Blocked)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "account blocked: no money can leave this account until the bank unblocks it."));
            }
            var to = bank.Accounts.FirstOrDefault(a => a.SortCode == request.ToSortCode && a.AccountNumber == request.ToAccountNumber)
                ?? throw new RpcException(new Status(StatusCode.NotFound,
                    $"There is no account with sort code {request.ToSortCode} and account number {request.ToAccountNumber}."));
            var movement = Transfer(from.LedgerAccountId, to.LedgerAccountId, request.Amount, request.Currency, request.IdempotencyKey, "Payment", "transfers");
            bank.Movements[request.IdempotencyKey] = movement;
            return movement;
        }
    }

    public override async Task<MoneyMovement> CreditFromBank(CreditFromBankRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            bank.CreditFromBankRequests.Add(request);
            if (bank.BankCredits.TryGetValue(request.ApprovalId, out var earlier))
            {
                return new MoneyMovement(earlier) { Duplicate = true };
            }
            var account = OwnedAccount(request.CustomerId, request.AccountId);
            var movement = new MoneyMovement { TransferId = Guid.Parse(request.ApprovalId).ToString("N"), Amount = request.Amount, Currency = request.Currency };
            bank.LedgerAccounts[account.LedgerAccountId].CreditsPosted += request.Amount;
            bank.BankCredits[request.ApprovalId] = movement;
            return movement;
        }
    }

    public override async Task<ListCardsResponse> ListCards(ListCardsRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            var response = new ListCardsResponse();
            response.Cards.AddRange(bank.Cards.Where(c => c.CustomerId == request.CustomerId));
            return response;
        }
    }

    public override async Task<Card> SetCardFrozen(SetCardFrozenRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            var card = bank.Cards.FirstOrDefault(c => c.CardId == request.CardId)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"There is no card {request.CardId}."));
            if (card.CustomerId != request.CustomerId)
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, $"Card {request.CardId} belongs to another customer."));
            }
            if (request.ByStaff)
            {
                // As the accounts service: a staff freeze is the staff's own, a staff unfreeze lifts both.
                card.FrozenByStaff = request.Frozen;
            }
            else if (!request.Frozen && card.FrozenByStaff)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "card frozen by the bank: only the bank can unfreeze it; contact us through Help."));
            }
            card.Frozen = request.Frozen;
            return card;
        }
    }

    public override async Task<CurrentAccount> SetAccountBlocked(SetAccountBlockedRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            var account = OwnedAccount(request.CustomerId, request.AccountId);
            account.Blocked = request.Blocked;
            account.BlockedReason = request.Blocked ? request.Reason : "";
            return account;
        }
    }

    public override async Task<RevokeTokenResponse> RevokeToken(RevokeTokenRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            bank.RevokedTokens.Add(request.TokenId);
            return new RevokeTokenResponse();
        }
    }

    public override async Task<IsTokenRevokedResponse> IsTokenRevoked(IsTokenRevokedRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        lock (bank.Sync)
        {
            return new IsTokenRevokedResponse { Revoked = bank.RevokedTokens.Contains(request.TokenId) };
        }
    }

    private CurrentAccount OwnedAccount(string customerId, string accountId)
    {
        var account = bank.Accounts.FirstOrDefault(a => a.AccountId == accountId)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"There is no current account {accountId}."));
        if (account.CustomerId != customerId)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"Current account {accountId} belongs to another customer."));
        }
        return account;
    }

    private MoneyMovement Transfer(string fromLedgerId, string toLedgerId, long amount, string currency, string key, string description, string category)
    {
        var from = bank.LedgerAccounts[fromLedgerId];
        var to = bank.LedgerAccounts[toLedgerId];
        if (from.Spendable < amount)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                "insufficient funds: the account does not hold enough money (including any overdraft) for this amount"));
        }
        from.DebitsPosted += amount;
        to.CreditsPosted += amount;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        bank.Feeds[fromLedgerId].Insert(0, new FeedItem
        {
            TransferId = key,
            Amount = -amount,
            Currency = currency,
            Description = description,
            Category = category,
            State = FeedItemState.Settled,
            TimestampUnixMs = now,
        });
        bank.Feeds[toLedgerId].Insert(0, new FeedItem
        {
            TransferId = key,
            Amount = amount,
            Currency = currency,
            Description = description,
            Category = category,
            State = FeedItemState.Settled,
            TimestampUnixMs = now,
        });
        return new MoneyMovement { TransferId = key, Amount = amount, Currency = currency, TimestampUnixMs = now };
    }

    private static RpcException Invalid(string field, string message) =>
        new(new Status(StatusCode.InvalidArgument, message), new Metadata { { "bulwark-field", field } });
}
