using System.Globalization;
using System.Security.Claims;
using Bulwark.Accounts.Protos;
using Bulwark.Edge.Authentication;
using Bulwark.Edge.Problems;
using Bulwark.Edge.Services;
using Bulwark.Edge.Telemetry;
using Bulwark.Edge.Throttling;
using Bulwark.Feed.Protos;
using Bulwark.Ledger.Protos;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using ChatClient = Bulwark.Support.Protos.Chat.ChatClient;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Edge.Api;

/// <summary>
/// The app API's handlers. Each one validates its input first (no service call for a bad request),
/// then checks ownership through the accounts service, then calls the feed or the ledger. Failures
/// are thrown as <see cref="ProblemException"/> or <see cref="ServiceCallException"/> and turned into
/// problem documents in one place, <see cref="AppApiEndpoints"/>.
/// </summary>
internal sealed partial class AppApi(
    AccountsClient accounts,
    FeedClient feed,
    LedgerClient ledger,
    ChatClient chat,
    ServiceCaller caller,
    CustomerTokens tokens,
    LoginThrottle loginThrottle,
    PayeeThrottle payeeThrottle,
    EdgeMetrics metrics,
    ILogger<AppApi> logger)
{
    public async Task<IResult> MeAsync(HttpContext http)
    {
        var customerId = await CustomerIdAsync(http);
        var customer = await caller.CallAsync(ServiceCaller.Accounts,
            options => accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = customerId }, options), http.RequestAborted);
        return TypedResults.Json(new MeResponse(customer.CustomerId, customer.Name, customer.Email), EdgeJsonContext.Default.MeResponse);
    }

    public async Task<IResult> AccountsAsync(HttpContext http)
    {
        var owned = await OwnershipAsync(http);
        var balances = await BalancesAsync(owned.Accounts.Select(a => a.LedgerAccountId).Concat(owned.Pots.Select(p => p.LedgerAccountId)), http.RequestAborted);
        var accountDtos = owned.Accounts.Select(a => ToDto(a, balances)).ToList();
        var potDtos = owned.Pots.Select(p => ToDto(p, balances)).ToList();
        return TypedResults.Json(new AccountsResponse(accountDtos, potDtos), EdgeJsonContext.Default.AccountsResponse);
    }

    public async Task<IResult> BalanceAsync(HttpContext http, string accountId)
    {
        Ownership.CheckIdFormat("account", accountId);
        var account = (await OwnershipAsync(http)).RequireAccount(accountId);
        var balances = await BalancesAsync([account.LedgerAccountId], http.RequestAborted);
        return TypedResults.Json(ToDto(account, balances).Balance, EdgeJsonContext.Default.BalanceDto);
    }

    public async Task<IResult> SpentTodayAsync(HttpContext http, string accountId)
    {
        Ownership.CheckIdFormat("account", accountId);
        var account = (await OwnershipAsync(http)).RequireAccount(accountId);
        var reply = await caller.CallAsync(ServiceCaller.Feed,
            options => feed.SpentTodayAsync(new SpentTodayRequest { LedgerAccountId = account.LedgerAccountId }, options), http.RequestAborted);
        var currency = string.IsNullOrEmpty(reply.Currency) ? account.Currency : reply.Currency;
        return TypedResults.Json(new SpentTodayResponse(reply.Amount, currency), EdgeJsonContext.Default.SpentTodayResponse);
    }

    public async Task<IResult> FeedAsync(HttpContext http, string accountId)
    {
        var (cursor, limit) = ReadFeedQuery(http.Request.Query);
        Ownership.CheckIdFormat("account", accountId);
        var account = (await OwnershipAsync(http)).RequireAccount(accountId);
        ListFeedResponse reply;
        try
        {
            reply = await caller.CallAsync(ServiceCaller.Feed,
                options => feed.ListFeedAsync(new ListFeedRequest { LedgerAccountId = account.LedgerAccountId, Cursor = cursor, Limit = limit }, options),
                http.RequestAborted);
        }
        catch (ServiceCallException error) when (error.StatusCode == Grpc.Core.StatusCode.InvalidArgument && cursor.Length > 0)
        {
            // The limit has been checked here already, so the feed can only be refusing the cursor
            // (one from another account's feed, or a made-up one).
            throw ProblemException.Field(ProblemType.Validation, "cursor", "cursor must be the nextCursor of a previous page of this account's feed.");
        }
        var items = reply.Items.Select(ToDto).ToList();
        var next = string.IsNullOrEmpty(reply.NextCursor) ? null : reply.NextCursor;
        return TypedResults.Json(new FeedResponse(items, next), EdgeJsonContext.Default.FeedResponse);
    }

    public async Task<IResult> PotsAsync(HttpContext http)
    {
        var owned = await OwnershipAsync(http);
        var balances = await BalancesAsync(owned.Pots.Select(p => p.LedgerAccountId), http.RequestAborted);
        return TypedResults.Json(new PotsResponse(owned.Pots.Select(p => ToDto(p, balances)).ToList()), EdgeJsonContext.Default.PotsResponse);
    }

    public async Task<IResult> CreatePotAsync(HttpContext http)
    {
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var fields = new RequestFields(body.RootElement);
        var accountId = fields.RequiredString("accountId", EdgeLimits.IdLengthMax);
        var name = fields.RequiredString("name", EdgeLimits.PotNameLengthMax);
        var goalAmount = fields.OptionalNonNegativeAmount("goalAmount");
        fields.ThrowIfInvalid();
        Ownership.CheckIdFormat("account", accountId!);

        // Another customer's account answers like a missing one. The accounts service checks again
        // (PERMISSION_DENIED); the edge passes the token's customer, never one from the request.
        (await OwnershipAsync(http)).RequireAccount(accountId!);
        var customerId = await CustomerIdAsync(http);
        var pot = await caller.CallAsync(ServiceCaller.Accounts, options => accounts.CreatePotAsync(new CreatePotRequest
        {
            CustomerId = customerId,
            AccountId = accountId,
            Name = name,
            GoalAmount = goalAmount,
        }, options), http.RequestAborted);
        // A pot that has just been created holds nothing yet.
        var dto = new PotDto(pot.PotId, pot.AccountId, pot.Name, pot.Currency, pot.GoalAmount, new BalanceDto(0, 0, 0, 0, 0, pot.Currency));
        return TypedResults.Json(dto, EdgeJsonContext.Default.PotDto, statusCode: StatusCodes.Status201Created);
    }

    public async Task<IResult> MovePotMoneyAsync(HttpContext http, string potId, MoveDirection direction)
    {
        var idempotencyKey = IdempotencyKey.Read(http.Request);
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var fields = new RequestFields(body.RootElement);
        var amount = fields.RequiredAmount("amount");
        var currency = fields.RequiredCurrency("currency");
        // Only a deposit can use the overdraft, and only when the customer says so.
        var useOverdraft = direction == MoveDirection.IntoPot && fields.OptionalBoolean("useOverdraft");
        fields.ThrowIfInvalid();
        Ownership.CheckIdFormat("pot", potId);

        // Another customer's pot answers exactly like a missing one: the edge answers both itself.
        var pot = (await OwnershipAsync(http)).FindPot(potId) ?? throw Ownership.NotFound("pot", potId);
        CheckCurrency(currency!, pot.Currency, "pot");
        var customerId = await CustomerIdAsync(http);
        var movement = await caller.CallAsync(ServiceCaller.Accounts, options => accounts.MoveMoneyAsync(new MoveMoneyRequest
        {
            CustomerId = customerId,
            PotId = potId,
            Direction = direction,
            Amount = amount!.Value,
            Currency = currency,
            IdempotencyKey = idempotencyKey,
            UseOverdraft = useOverdraft,
        }, options), http.RequestAborted);
        return MovementResult(http, movement);
    }

    public async Task<IResult> PayAsync(HttpContext http)
    {
        var idempotencyKey = IdempotencyKey.Read(http.Request);
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var fields = new RequestFields(body.RootElement);
        var fromAccountId = fields.RequiredString("fromAccountId", EdgeLimits.IdLengthMax);
        var sortCode = Digits(fields, "toSortCode", 6);
        var accountNumber = Digits(fields, "toAccountNumber", 8);
        var amount = fields.RequiredAmount("amount");
        var currency = fields.RequiredCurrency("currency");
        var reference = fields.OptionalString("reference", EdgeLimits.PaymentReferenceLengthMax) ?? "";
        fields.ThrowIfInvalid();
        Ownership.CheckIdFormat("account", fromAccountId!);

        // Paying from another customer's account answers exactly like paying from a missing one.
        var account = (await OwnershipAsync(http)).FindAccount(fromAccountId!) ?? throw Ownership.NotFound("account", fromAccountId!);
        CheckCurrency(currency!, account.Currency, "account");
        var customerId = await CustomerIdAsync(http);
        ThrowIfPayeeLookupsSpent(customerId);
        var request = new PayAccountRequest
        {
            CustomerId = customerId,
            FromAccountId = fromAccountId,
            ToSortCode = sortCode,
            ToAccountNumber = accountNumber,
            Amount = amount!.Value,
            Currency = currency,
            Reference = reference,
            IdempotencyKey = idempotencyKey,
        };
        try
        {
            return MovementResult(http, await caller.CallAsync(ServiceCaller.Accounts, options => accounts.PayAccountAsync(request, options), http.RequestAborted));
        }
        catch (ServiceCallException error) when (error.StatusCode == Grpc.Core.StatusCode.NotFound)
        {
            // The paying account is the customer's (checked above), so not-found is about the payee.
            payeeThrottle.RecordMiss(customerId);
            throw;
        }
    }

    private void ThrowIfPayeeLookupsSpent(string customerId)
    {
        if (payeeThrottle.Exhausted(customerId) is { } wait)
        {
            metrics.RecordThrottled("payee");
            EdgeLog.PayeeLookupsThrottled(logger, customerId);
            throw ProblemException.TooManyRequests("Too many payments to accounts that do not exist; check the sort code and account number, and try again later.", wait);
        }
    }

    public async Task<IResult> CardsAsync(HttpContext http)
    {
        var customerId = await CustomerIdAsync(http);
        var reply = await caller.CallAsync(ServiceCaller.Accounts,
            options => accounts.ListCardsAsync(new ListCardsRequest { CustomerId = customerId }, options), http.RequestAborted);
        return TypedResults.Json(new CardsResponse(reply.Cards.Select(ToDto).ToList()), EdgeJsonContext.Default.CardsResponse);
    }

    public async Task<IResult> SetCardFrozenAsync(HttpContext http, string cardId, bool frozen)
    {
        Ownership.CheckIdFormat("card", cardId);
        // The accounts service owns cards and checks the customer; someone else's card (PERMISSION_DENIED)
        // answers exactly like a missing one (NOT_FOUND).
        var customerId = await CustomerIdAsync(http);
        try
        {
            var card = await caller.CallAsync(ServiceCaller.Accounts,
                options => accounts.SetCardFrozenAsync(new SetCardFrozenRequest { CustomerId = customerId, CardId = cardId, Frozen = frozen }, options),
                http.RequestAborted);
            return TypedResults.Json(ToDto(card), EdgeJsonContext.Default.CardDto);
        }
        catch (ServiceCallException error) when (error.StatusCode is Grpc.Core.StatusCode.NotFound or Grpc.Core.StatusCode.PermissionDenied)
        {
            throw Ownership.NotFound("card", cardId);
        }
    }

    private async Task<Ownership> OwnershipAsync(HttpContext http)
    {
        var customerId = await CustomerIdAsync(http);
        var holdings = await caller.CallAsync(ServiceCaller.Accounts,
            options => accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = customerId }, options), http.RequestAborted);
        return new Ownership(holdings);
    }

    private Task<Dictionary<UInt128, Bulwark.Ledger.Protos.Account>> BalancesAsync(IEnumerable<string> ledgerAccountIds, CancellationToken cancellationToken) =>
        BalancesAsync(ledger, caller, ledgerAccountIds, cancellationToken);

    /// <summary>The ledger's accounts behind a customer's holdings (the staff console reads them the same way).</summary>
    internal static async Task<Dictionary<UInt128, Bulwark.Ledger.Protos.Account>> BalancesAsync(LedgerClient ledger, ServiceCaller caller,
        IEnumerable<string> ledgerAccountIds, CancellationToken cancellationToken)
    {
        var ids = ledgerAccountIds.Select(LedgerAccountIds.Parse).Distinct().ToList();
        if (ids.Count == 0)
        {
            return [];
        }
        var request = new GetAccountsRequest();
        request.Ids.AddRange(ids.Select(LedgerAccountIds.ToProto));
        var reply = await caller.CallAsync(ServiceCaller.Ledger, options => ledger.GetAccountsAsync(request, options), cancellationToken);
        if (reply.Missing.Count > 0)
        {
            // The accounts service listed a ledger account the ledger does not know: the two disagree,
            // and showing a made-up zero balance would be worse than an error.
            throw new InvalidOperationException(
                $"The ledger does not know {reply.Missing.Count} ledger account(s) the accounts service listed, e.g. {LedgerAccountIds.FromProto(reply.Missing[0]):x32}.");
        }
        return reply.Accounts.ToDictionary(a => LedgerAccountIds.FromProto(a.Id));
    }

    private static BalanceDto Balance(Dictionary<UInt128, Bulwark.Ledger.Protos.Account> balances, string ledgerAccountId, string currency)
    {
        if (!balances.TryGetValue(LedgerAccountIds.Parse(ledgerAccountId), out var account))
        {
            throw new InvalidOperationException($"The ledger did not return account {ledgerAccountId}.");
        }
        // Checked: ledger balances are bounded by its own overflow checks, so overflow here is a bug.
        var settled = checked(account.CreditsPosted - account.DebitsPosted);
        var available = checked(settled - account.DebitsPending);
        return new BalanceDto(available, settled, account.DebitsPending, account.CreditsPending, account.OverdraftLimit,
            string.IsNullOrEmpty(account.Currency) ? currency : account.Currency);
    }

    internal static AccountDto ToDto(CurrentAccount account, Dictionary<UInt128, Bulwark.Ledger.Protos.Account> balances) =>
        new(account.AccountId, string.IsNullOrEmpty(account.Name) ? "Current account" : account.Name, account.SortCode, account.AccountNumber,
            account.Currency, Balance(balances, account.LedgerAccountId, account.Currency), account.Blocked);

    internal static PotDto ToDto(Pot pot, Dictionary<UInt128, Bulwark.Ledger.Protos.Account> balances) =>
        new(pot.PotId, pot.AccountId, pot.Name, pot.Currency, pot.GoalAmount, Balance(balances, pot.LedgerAccountId, pot.Currency));

    internal static CardDto ToDto(Card card) =>
        new(card.CardId, card.AccountId, card.LastFour, card.ExpiryMonth, card.ExpiryYear, card.Frozen, card.Currency, card.FrozenByStaff);

    internal static FeedItemDto ToDto(FeedItem item) => new(
        item.TransferId,
        item.Amount,
        item.Currency,
        string.IsNullOrEmpty(item.Description) ? (string.IsNullOrEmpty(item.MerchantName) ? "Transaction" : item.MerchantName) : item.Description,
        string.IsNullOrEmpty(item.Category) ? "general" : item.Category,
        item.State switch
        {
            FeedItemState.Settled => "settled",
            FeedItemState.Pending => "pending",
            FeedItemState.Released => "released",
            _ => "unknown",
        },
        DateTimeOffset.FromUnixTimeMilliseconds(item.TimestampUnixMs),
        item.OriginalAmount == 0 ? null : item.OriginalAmount,
        string.IsNullOrEmpty(item.MerchantName) ? null : item.MerchantName,
        string.IsNullOrEmpty(item.Reference) ? null : item.Reference);

    private static IResult MovementResult(HttpContext http, MoneyMovement movement)
    {
        if (movement.Duplicate)
        {
            // Tells a retrying client that this is the first answer replayed, not a second movement.
            http.Response.Headers["Idempotent-Replayed"] = "true";
        }
        var response = new MoneyMovementResponse(movement.TransferId, movement.Amount, movement.Currency, movement.Duplicate,
            DateTimeOffset.FromUnixTimeMilliseconds(movement.TimestampUnixMs));
        return TypedResults.Json(response, EdgeJsonContext.Default.MoneyMovementResponse);
    }

    private static void CheckCurrency(string requested, string actual, string kind)
    {
        if (!string.Equals(requested, actual, StringComparison.Ordinal))
        {
            throw ProblemException.Field(ProblemType.CurrencyMismatch, "currency",
                $"currency is {requested} but the {kind} holds {actual}.");
        }
    }

    /// <summary>UK sort codes and account numbers: digits only; dashes and spaces people type are dropped.</summary>
    private static string? Digits(RequestFields fields, string field, int count)
    {
        var value = fields.RequiredString(field, count * 2);
        if (value is null)
        {
            return null;
        }
        var digits = value.Replace("-", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal);
        if (digits.Length != count || !digits.All(char.IsAsciiDigit))
        {
            fields.Fail(field, $"{field} must be {count} digits.");
            return null;
        }
        return digits;
    }

    internal static (string Cursor, int Limit) ReadFeedQuery(IQueryCollection query)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var cursor = query["cursor"].ToString();
        if (cursor.Length > EdgeLimits.CursorLengthMax || cursor.Any(char.IsControl))
        {
            errors["cursor"] = ["cursor must be the nextCursor of a previous page."];
        }
        var limit = EdgeLimits.FeedPageLimitDefault;
        var limitText = query["limit"].ToString();
        if (limitText.Length > 0
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > EdgeLimits.FeedPageLimitMax))
        {
            errors["limit"] = [$"limit must be a whole number from 1 to {EdgeLimits.FeedPageLimitMax}."];
        }
        if (errors.Count > 0)
        {
            throw new ProblemException(ProblemType.Validation, errors.Values.First()[0], errors);
        }
        return (cursor, limit);
    }
}
