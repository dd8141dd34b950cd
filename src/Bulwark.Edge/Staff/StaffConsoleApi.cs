using System.Globalization;
using Bulwark.Accounts.Protos;
using Bulwark.Edge.Api;
using Bulwark.Edge.Problems;
using Bulwark.Edge.Services;
using Bulwark.Feed.Protos;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Edge.Staff;

internal sealed record StaffCustomerDto(string CustomerId, string Name, string Email, DateTimeOffset CreatedAt);

internal sealed record StaffSearchResponse(IReadOnlyList<StaffCustomerDto> Customers, bool More);

internal sealed record StaffCustomerView(
    StaffCustomerDto Customer,
    IReadOnlyList<AccountDto> Accounts,
    IReadOnlyList<PotDto> Pots,
    IReadOnlyList<CardDto> Cards,
    FeedResponse Feed,
    long AuditSequence);

internal sealed record StaffCardResponse(CardDto Card, long AuditSequence);

internal sealed record StaffAccountResponse(string AccountId, bool Blocked, string BlockedReason, long AuditSequence);

/// <summary>
/// The console's customer API (docs/guides/console.md): find a customer, see everything the
/// customer sees (accounts, balances, pots, cards, feed), freeze or unfreeze a card. Support and
/// operations staff only (<see cref="StaffPolicies.Console"/>). Every call is written to the audit
/// log before its answer — a view of a customer with the reason the staff member gave — and an
/// audit log that cannot be written refuses the call (503): nothing is seen unrecorded.
/// </summary>
internal sealed partial class StaffConsoleApi(AccountsClient accounts, FeedClient feed, LedgerClient ledger, IStaffAuditLog audit,
    StaffEdgeOptions options, ILogger<StaffConsoleApi> logger)
{
    /// <summary>Where a request's checked reason is kept for the action that needs it.</summary>
    private const string ReasonItem = "bulwark.staff-reason";

    private readonly ServiceCaller _caller = new(options.ServiceCallTimeout);

    public static void Map(RouteGroupBuilder api)
    {
        var console = api.MapGroup("").RequireAuthorization(StaffPolicies.Console);
        console.MapGet("/customers", (HttpContext http, StaffConsoleApi staff) => staff.SearchAsync(http));
        console.MapGet("/customers/{customerId}", (HttpContext http, string customerId, StaffConsoleApi staff) => staff.ViewAsync(http, customerId));
        console.MapGet("/customers/{customerId}/accounts/{accountId}/feed",
            (HttpContext http, string customerId, string accountId, StaffConsoleApi staff) => staff.FeedAsync(http, customerId, accountId));
        console.MapPost("/customers/{customerId}/cards/{cardId}/freeze",
            (HttpContext http, string customerId, string cardId, StaffConsoleApi staff) => staff.SetCardFrozenAsync(http, customerId, cardId, frozen: true));
        console.MapPost("/customers/{customerId}/cards/{cardId}/unfreeze",
            (HttpContext http, string customerId, string cardId, StaffConsoleApi staff) => staff.SetCardFrozenAsync(http, customerId, cardId, frozen: false));
        console.MapPost("/customers/{customerId}/accounts/{accountId}/block",
            (HttpContext http, string customerId, string accountId, StaffConsoleApi staff) => staff.SetAccountBlockedAsync(http, customerId, accountId, blocked: true));
        console.MapPost("/customers/{customerId}/accounts/{accountId}/unblock",
            (HttpContext http, string customerId, string accountId, StaffConsoleApi staff) => staff.SetAccountBlockedAsync(http, customerId, accountId, blocked: false));
    }

    public async Task<IResult> SearchAsync(HttpContext http)
    {
        var query = http.Request.Query;
        // A search shows names and emails: it is a look at customers, and says why like any.
        var reason = Reason(query["reason"].ToString());
        var request = new SearchCustomersRequest
        {
            Name = Text(query, "name"),
            Email = Text(query, "email"),
            // Liberal in what staff type: "04-00-75" and "0400 75" are the sort code 040075.
            SortCode = Digits(query, "sortCode"),
            AccountNumber = Digits(query, "accountNumber"),
            CardLastFour = Digits(query, "cardLastFour"),
        };
        var actor = StaffActor.From(http);
        var details = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in new[] { ("name", request.Name), ("email", request.Email), ("sortCode", request.SortCode), ("accountNumber", request.AccountNumber), ("cardLastFour", request.CardLastFour) })
        {
            if (value.Length > 0)
            {
                details[name] = value;
            }
        }
        if (details.Count == 0)
        {
            throw ProblemException.Field(ProblemType.Validation, "name", "Search by name, email, sortCode with accountNumber, or cardLastFour.");
        }
        SearchCustomersResponse reply;
        try
        {
            reply = await _caller.CallAsync(ServiceCaller.Accounts, call => accounts.SearchCustomersAsync(request, call), http.RequestAborted);
        }
        catch (ServiceCallException error) when (error.StatusCode == Grpc.Core.StatusCode.InvalidArgument)
        {
            // The accounts service names the field in the proto's spelling; the staff API's is camelCase, as the exception gives it.
            throw ProblemException.Field(ProblemType.Validation, error.Field ?? "name", error.ServiceMessage);
        }
        details["found"] = reply.Customers.Count.ToString(CultureInfo.InvariantCulture);
        await audit.AppendAsync(actor, "customer.searched", "", reason, details, http.RequestAborted);
        return TypedResults.Json(new StaffSearchResponse([.. reply.Customers.Select(ToDto)], reply.More), StaffJsonContext.Default.StaffSearchResponse);
    }

    public async Task<IResult> ViewAsync(HttpContext http, string customerId)
    {
        Ownership.CheckIdFormat("customer", customerId);
        var reason = Reason(http.Request.Query["reason"].ToString());
        var actor = StaffActor.From(http);
        var customer = await CustomerAsync(customerId, http.RequestAborted);
        // Written before anything of the customer's is read: a view the log cannot record is not given.
        var sequence = await audit.AppendAsync(actor, "customer.viewed", customer.CustomerId, reason, null, http.RequestAborted);
        LogViewed(logger, actor.StaffId, customer.CustomerId, sequence);

        var holdings = await _caller.CallAsync(ServiceCaller.Accounts,
            call => accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = customer.CustomerId }, call), http.RequestAborted);
        var cards = await _caller.CallAsync(ServiceCaller.Accounts,
            call => accounts.ListCardsAsync(new ListCardsRequest { CustomerId = customer.CustomerId }, call), http.RequestAborted);
        var balances = await AppApi.BalancesAsync(ledger, _caller,
            holdings.Accounts.Select(account => account.LedgerAccountId).Concat(holdings.Pots.Select(pot => pot.LedgerAccountId)), http.RequestAborted);
        var feedPage = holdings.Accounts.Count == 0
            ? new FeedResponse([], null)
            : await FeedPageAsync(holdings.Accounts[0], "", StaffEdgeLimits.FeedPageDefault, http.RequestAborted);
        return TypedResults.Json(new StaffCustomerView(
            ToDto(customer),
            [.. holdings.Accounts.Select(account => AppApi.ToDto(account, balances))],
            [.. holdings.Pots.Select(pot => AppApi.ToDto(pot, balances))],
            [.. cards.Cards.Select(AppApi.ToDto)],
            feedPage,
            sequence), StaffJsonContext.Default.StaffCustomerView);
    }

    public async Task<IResult> FeedAsync(HttpContext http, string customerId, string accountId)
    {
        Ownership.CheckIdFormat("customer", customerId);
        Ownership.CheckIdFormat("account", accountId);
        var (cursor, limit) = AppApi.ReadFeedQuery(http.Request.Query);
        var reason = Reason(http.Request.Query["reason"].ToString());
        var actor = StaffActor.From(http);
        // As a view: the coherence checker's synthetic customers are no one's to look at.
        await CustomerAsync(customerId, http.RequestAborted);
        var holdings = await _caller.CallAsync(ServiceCaller.Accounts,
            call => accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = customerId }, call), http.RequestAborted);
        var account = new Ownership(holdings).RequireAccount(accountId);
        await audit.AppendAsync(actor, "customer.feed_viewed", customerId, reason, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["accountId"] = account.AccountId,
            ["cursor"] = cursor,
        }, http.RequestAborted);
        return TypedResults.Json(await FeedPageAsync(account, cursor, limit, http.RequestAborted), StaffJsonContext.Default.FeedResponse);
    }

    public Task<IResult> SetCardFrozenAsync(HttpContext http, string customerId, string cardId, bool frozen)
    {
        Ownership.CheckIdFormat("card", cardId);
        return AuditedActionAsync(http, customerId, frozen ? "card.frozen" : "card.unfrozen", "cardId", cardId, "card", async call =>
        {
            var card = await accounts.SetCardFrozenAsync(new SetCardFrozenRequest { CustomerId = customerId, CardId = cardId, Frozen = frozen, ByStaff = true }, call);
            return (sequence => TypedResults.Json(new StaffCardResponse(AppApi.ToDto(card), sequence), StaffJsonContext.Default.StaffCardResponse));
        });
    }

    public Task<IResult> SetAccountBlockedAsync(HttpContext http, string customerId, string accountId, bool blocked)
    {
        Ownership.CheckIdFormat("account", accountId);
        return AuditedActionAsync(http, customerId, blocked ? "account.blocked" : "account.unblocked", "accountId", accountId, "account", async call =>
        {
            var reason = (string)http.Items[ReasonItem]!;
            var account = await accounts.SetAccountBlockedAsync(
                new SetAccountBlockedRequest { CustomerId = customerId, AccountId = accountId, Blocked = blocked, Reason = reason }, call);
            return (sequence => TypedResults.Json(new StaffAccountResponse(account.AccountId, account.Blocked, account.BlockedReason, sequence),
                StaffJsonContext.Default.StaffAccountResponse));
        });
    }

    /// <summary>
    /// A change to a customer's things with the reason from the body: written to the audit log
    /// before it is done (an action the log cannot record is not taken), then done; an entry whose
    /// call then failed is followed by one that says so. Someone else's thing answers 404, like one that does not exist.
    /// </summary>
    private async Task<IResult> AuditedActionAsync(HttpContext http, string customerId, string action, string targetField, string targetId, string targetKind,
        Func<Grpc.Core.CallOptions, Task<Func<long, IResult>>> act)
    {
        Ownership.CheckIdFormat("customer", customerId);
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var fields = new RequestFields(body.RootElement);
        var reasonText = fields.RequiredString("reason", StaffEdgeLimits.ReasonLengthMax);
        fields.ThrowIfInvalid();
        var reason = Reason(reasonText!);
        http.Items[ReasonItem] = reason;
        var actor = StaffActor.From(http);
        var sequence = await audit.AppendAsync(actor, action, customerId, reason,
            new Dictionary<string, string>(StringComparer.Ordinal) { [targetField] = targetId }, http.RequestAborted);
        Func<long, IResult> answer;
        try
        {
            answer = await _caller.RunAsync(ServiceCaller.Accounts, act, http.RequestAborted);
        }
        catch (ServiceCallException error)
        {
            await RecordFailureAsync(actor, action, customerId, reason, sequence, error);
            if (error.StatusCode is Grpc.Core.StatusCode.NotFound or Grpc.Core.StatusCode.PermissionDenied)
            {
                throw Ownership.NotFound(targetKind, targetId);
            }
            throw;
        }
        LogChanged(logger, actor.StaffId, action, targetId, customerId, sequence);
        return answer(sequence);
    }

    private async Task RecordFailureAsync(StaffActor actor, string action, string subject, string reason, long sequence, ServiceCallException error)
    {
        try
        {
            // Not the request's token: the client may be gone, and the record of the failure should still be written.
            using var bounded = new CancellationTokenSource(options.ServiceCallTimeout);
            await audit.AppendAsync(actor, action + "_failed", subject, reason, new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["auditSequence"] = sequence.ToString(CultureInfo.InvariantCulture),
                ["status"] = error.StatusCode.ToString(),
            }, bounded.Token);
        }
        catch (Exception failure) when (failure is ServiceCallException or OperationCanceledException)
        {
            LogFailureNotRecorded(logger, action, sequence, failure.Message);
        }
    }

    private async Task<FeedResponse> FeedPageAsync(CurrentAccount account, string cursor, int limit, CancellationToken cancellationToken)
    {
        ListFeedResponse reply;
        try
        {
            reply = await _caller.CallAsync(ServiceCaller.Feed,
                call => feed.ListFeedAsync(new ListFeedRequest { LedgerAccountId = account.LedgerAccountId, Cursor = cursor, Limit = limit }, call), cancellationToken);
        }
        catch (ServiceCallException error) when (error.StatusCode == Grpc.Core.StatusCode.InvalidArgument && cursor.Length > 0)
        {
            throw ProblemException.Field(ProblemType.Validation, "cursor", "cursor must be the nextCursor of a previous page of this account's feed.");
        }
        return new FeedResponse([.. reply.Items.Select(AppApi.ToDto)], string.IsNullOrEmpty(reply.NextCursor) ? null : reply.NextCursor);
    }

    private async Task<Customer> CustomerAsync(string customerId, CancellationToken cancellationToken)
    {
        Customer customer;
        try
        {
            customer = await _caller.CallAsync(ServiceCaller.Accounts,
                call => accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = customerId }, call), cancellationToken);
        }
        catch (ServiceCallException error) when (error.StatusCode == Grpc.Core.StatusCode.NotFound)
        {
            throw Ownership.NotFound("customer", customerId);
        }
        if (customer.Synthetic)
        {
            // The coherence checker's own customers are no one's to look at: like customers that do not exist.
            throw Ownership.NotFound("customer", customerId);
        }
        return customer;
    }

    /// <summary>Why the staff member does this, for the audit log: required, trimmed, within its lengths.</summary>
    private static string Reason(string value)
    {
        var reason = value.Trim();
        if (reason.Length < StaffEdgeLimits.ReasonLengthMin || reason.Length > StaffEdgeLimits.ReasonLengthMax)
        {
            throw ProblemException.Field(ProblemType.Validation, "reason", string.Create(CultureInfo.InvariantCulture,
                $"reason must say why, in {StaffEdgeLimits.ReasonLengthMin} to {StaffEdgeLimits.ReasonLengthMax} characters (it goes into the audit log)."));
        }
        return reason;
    }

    private static string Text(IQueryCollection query, string name)
    {
        var value = query[name].ToString().Trim();
        if (value.Length > StaffEdgeLimits.SearchTextLengthMax)
        {
            throw ProblemException.Field(ProblemType.Validation, name, string.Create(CultureInfo.InvariantCulture, $"{name} must be at most {StaffEdgeLimits.SearchTextLengthMax} characters."));
        }
        return value;
    }

    private static string Digits(IQueryCollection query, string name)
    {
        var value = Text(query, name);
        var digits = new string([.. value.Where(character => character is not ('-' or ' '))]);
        if (!digits.All(char.IsAsciiDigit))
        {
            throw ProblemException.Field(ProblemType.Validation, name, $"{name} must be digits (spaces and dashes are ignored).");
        }
        return digits;
    }

    private static StaffCustomerDto ToDto(Customer customer) =>
        new(customer.CustomerId, customer.Name, customer.Email, DateTimeOffset.FromUnixTimeMilliseconds(customer.CreatedAtUnixMs));

    [LoggerMessage(EventId = 4110, Level = LogLevel.Information, Message = "Staff member {StaffId} viewed customer {CustomerId} (audit {Sequence})")]
    private static partial void LogViewed(ILogger logger, string staffId, string customerId, long sequence);

    [LoggerMessage(EventId = 4111, Level = LogLevel.Information, Message = "Staff member {StaffId}: {Action} {TargetId} of customer {CustomerId} (audit {Sequence})")]
    private static partial void LogChanged(ILogger logger, string staffId, string action, string targetId, string customerId, long sequence);

    [LoggerMessage(EventId = 4112, Level = LogLevel.Error, Message = "The failure of {Action} (audit {Sequence}) could not be written to the audit log: {Error}")]
    private static partial void LogFailureNotRecorded(ILogger logger, string action, long sequence, string error);
}
