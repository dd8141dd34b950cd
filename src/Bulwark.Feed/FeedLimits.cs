namespace Bulwark.Feed;

/// <summary>Every limit of the feed service in one place.</summary>
public static class FeedLimits
{
    public const int ListLimitDefault = 20;

    public const int ListLimitMax = 100;

    /// <summary>
    /// Ledger pages one ListFeed call may read to fill a page of feed items (post and void records
    /// are skipped, so a ledger page can yield fewer items than it holds).
    /// </summary>
    public const int ListFeedLedgerPagesMax = 5;

    /// <summary>Transfers asked of the ledger per page when totalling today's spending.</summary>
    public const int SpentTodayLedgerPageSize = 100;

    /// <summary>Ledger pages SpentToday reads at most (10,000 transfers in one day is far beyond a person).</summary>
    public const int SpentTodayLedgerPagesMax = 100;

    /// <summary>A cursor longer than this was not issued by the feed.</summary>
    public const int CursorLengthMax = 1_024;

    public const int LedgerCallTimeoutMillisecondsDefault = 5_000;
}
