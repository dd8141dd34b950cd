namespace Bulwark.Coherence;

/// <summary>The checker's limits, in one place, with the reason for each number.</summary>
public static class CoherenceLimits
{
    /// <summary>
    /// Seconds between the starts of two rounds by default. A round costs each cell two ledger
    /// writes and three reads, and the edge two app API reads (a login, with its password hash,
    /// only once an hour per partition): at 5 s that is well under 1 % of a cell's capacity, and a lost
    /// write is seen within two rounds.
    /// </summary>
    public const int IntervalSecondsDefault = 5;

    /// <summary>At least a second between rounds: the checker must never become the cells' load.</summary>
    public const int IntervalSecondsMin = 1;

    /// <summary>At most an hour: a checker that asks less often than that does not watch anything.</summary>
    public const int IntervalSecondsMax = 3_600;

    /// <summary>
    /// How long one cell's round may take, all its calls together, by default: beyond it the
    /// cell's unfinished checks count as timeouts. A healthy cell answers in milliseconds; 3 s
    /// covers a loaded machine and the router's retry of an unavailable cell.
    /// </summary>
    public const int CellBudgetMillisecondsDefault = 3_000;

    public const int CellBudgetMillisecondsMin = 100;

    /// <summary>A cell's budget is at most a minute; it must also be below the interval (checked at start).</summary>
    public const int CellBudgetMillisecondsMax = 60_000;

    /// <summary>Cells checked at once in a round: more than a bank has (the placement map's cells max is 64).</summary>
    public const int CellsInParallelMax = 64;

    /// <summary>Transfers read back in one page: the check's write is the probe's newest, a page of 10 absorbs a second checker's writes.</summary>
    public const int ReadPageSize = 10;

    /// <summary>Pages read at most to find a write: the write is on the first page unless other writers crowd the probe account.</summary>
    public const int ReadPagesMax = 5;

    /// <summary>Ids tried to find a synthetic account in a partition; about the partition count is needed (256 by default, at most 65,536).</summary>
    public const ulong AccountIdSearchMax = 10_000_000;

    /// <summary>Check results kept for status: the last of each (cell, check), plus totals.</summary>
    public const int StatusCellsMax = 256;

    /// <summary>Characters of a synthetic customer's random password (64 symbols: 240 bits, beyond guessing; within the accounts service's 8 to 128).</summary>
    public const int SyntheticPasswordLength = 40;

    /// <summary>A synthetic customer logs in again this long before its token expires, so that no check reads with a token about to lapse.</summary>
    public static readonly TimeSpan SessionRenewBefore = TimeSpan.FromMinutes(1);

    /// <summary>App API addresses at most (<see cref="CoherenceOptions.AppApiVariable"/>): more edges than a bank's load balancer fronts.</summary>
    public const int AppApiAddressesMax = 16;

    /// <summary>Characters of an app API failure's body kept in a check's detail (a problem document is shorter).</summary>
    public const int ProblemDetailLengthMax = 300;

    /// <summary>One app API call at most: the cell's budget bounds it first; this bounds a check made without one.</summary>
    public static readonly TimeSpan AppApiCallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long <c>config_read</c> waits for the configuration client to show a write the service
    /// acknowledged: the service's watch delivers a change within its poll (250 ms by default) and
    /// the client applies it at once, so 2 s is a generous margin that still fits the 3 s budget.
    /// </summary>
    public const int ConfigReadWaitMilliseconds = 2_000;

    /// <summary>How often <c>config_read</c> looks at the client's answer while it waits (memory reads).</summary>
    public const int ConfigReadPollMilliseconds = 20;

    /// <summary>Known configuration keys <c>config_known_read</c> reads at most (each a memory read).</summary>
    public const int ConfigKnownKeysMax = 32;
}
