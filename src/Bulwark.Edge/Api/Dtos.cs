namespace Bulwark.Edge.Api;

// The app API's response bodies. Money is always long minor units plus an ISO 4217 currency.

internal sealed record LoginResponse(string Token, string TokenType, DateTimeOffset ExpiresAt, string CustomerId);

internal sealed record MeResponse(string CustomerId, string Name, string Email);

/// <summary>
/// A ledger balance as the customer sees it. <c>Available</c> is settled money minus money held for
/// pending card payments; the overdraft is shown separately and is not part of it.
/// </summary>
internal sealed record BalanceDto(long Available, long Settled, long PendingOut, long PendingIn, long OverdraftLimit, string Currency);

/// <param name="Blocked">Staff blocked the account: no money leaves it until they unblock it (payments answer 422).</param>
internal sealed record AccountDto(string AccountId, string Name, string SortCode, string AccountNumber, string Currency, BalanceDto Balance, bool Blocked);

internal sealed record PotDto(string PotId, string AccountId, string Name, string Currency, long GoalAmount, BalanceDto Balance);

internal sealed record AccountsResponse(IReadOnlyList<AccountDto> Accounts, IReadOnlyList<PotDto> Pots);

internal sealed record PotsResponse(IReadOnlyList<PotDto> Pots);

internal sealed record SpentTodayResponse(long Amount, string Currency);

internal sealed record FeedItemDto(
    string TransferId,
    long Amount,
    string Currency,
    string Description,
    string Category,
    string State,
    DateTimeOffset Timestamp,
    long? OriginalAmount,
    string? MerchantName,
    string? Reference);

internal sealed record FeedResponse(IReadOnlyList<FeedItemDto> Items, string? NextCursor);

internal sealed record MoneyMovementResponse(string TransferId, long Amount, string Currency, bool Duplicate, DateTimeOffset Timestamp);

/// <param name="FrozenByStaff">The bank froze it (the console): only the bank unfreezes it; the app's unfreeze answers 422.</param>
internal sealed record CardDto(string CardId, string AccountId, string LastFour, int ExpiryMonth, int ExpiryYear, bool Frozen, string Currency, bool FrozenByStaff);

internal sealed record CardsResponse(IReadOnlyList<CardDto> Cards);

/// <summary>A help (chat) message as the customer's app shows it: <c>Author</c> is "customer" or "staff"; staff sign with their first name.</summary>
internal sealed record HelpMessageDto(long Sequence, string Author, string? AuthorName, string Text, DateTimeOffset SentAt);

/// <summary>The messages after the request's <c>after</c>; <c>NextAfter</c> is the next request's, <c>More</c> says to ask again at once.</summary>
internal sealed record HelpMessagesResponse(IReadOnlyList<HelpMessageDto> Messages, long NextAfter, bool More);
