namespace Bulwark.Coherence.Checking;

/// <summary>The names of the checks, as counted (tag <c>check</c>) and logged.</summary>
public static class CoherenceCheck
{
    /// <summary>Create the partition's synthetic accounts and pay one minor unit into its probe, through the ledger's router.</summary>
    public const string LedgerWrite = "ledger_write";

    /// <summary>Read the write just acknowledged back from the ledger, routed to the partition's owner.</summary>
    public const string LedgerRead = "ledger_read";

    /// <summary>Read the cell's previous acknowledged write again, a round later: a write that was there and is gone.</summary>
    public const string LedgerReread = "ledger_reread";

    /// <summary>Read the write just acknowledged through the feed service, as a customer's app does.</summary>
    public const string FeedRead = "feed_read";

    /// <summary>
    /// Read the write just acknowledged through the app API (the edge's public HTTP API), as the
    /// partition's synthetic customer: log in, list the accounts with their balances, read the feed.
    /// Made when the checker knows an app API address (<see cref="CoherenceOptions.AppApi"/>).
    /// </summary>
    public const string AppRead = "app_read";

    /// <summary>
    /// Write the checker's synthetic key (<see cref="ConfigReadCheck.SyntheticKey"/>) through the
    /// configuration service, once a round (outcomes' cell: <see cref="ConfigReadCheck.Service"/>).
    /// </summary>
    public const string ConfigWrite = "config_write";

    /// <summary>Read the write the configuration service just acknowledged through the platform's configuration client, as every consumer reads configuration.</summary>
    public const string ConfigRead = "config_read";

    /// <summary>
    /// Read known keys (the staff edge's allowed ranges, the status banner) through the configuration
    /// client: a not-found the client cannot trust, or a service gone back in revision, is the 2019
    /// failure and counts as missing.
    /// </summary>
    public const string ConfigKnownRead = "config_known_read";

    /// <summary>Not a check: a cell's round that ended in an unexpected exception (a bug in a check), counted as an error so that it is seen.</summary>
    public const string Round = "round";

    /// <summary>The checks a cell's round makes.</summary>
    public static readonly IReadOnlyList<string> All = [LedgerWrite, LedgerRead, LedgerReread, FeedRead, AppRead];

    /// <summary>The checks of the configuration service (a bank-wide check, once a round).</summary>
    public static readonly IReadOnlyList<string> Configuration = [ConfigWrite, ConfigRead, ConfigKnownRead];
}

/// <summary>The results of a check, as counted (tag <c>result</c>).</summary>
public static class CoherenceResult
{
    public const string Ok = "ok";

    /// <summary>A read answered but did not show a write the ledger had acknowledged: the incident-B failure. Alerted.</summary>
    public const string Missing = "missing";

    /// <summary>The call failed (unavailable, refused, an unexpected status): the check could not be made.</summary>
    public const string Error = "error";

    /// <summary>The cell's budget ran out before the check finished.</summary>
    public const string Timeout = "timeout";

    public static readonly IReadOnlyList<string> All = [Ok, Missing, Error, Timeout];
}

/// <summary>One check's outcome in one cell: what was checked (partition, accounts, transfer) and what it showed.</summary>
public sealed record CheckOutcome(string Cell, string Check, string Result, int Partition, UInt128 AccountId, UInt128 TransferId, string Detail, DateTimeOffset At)
{
    public bool Passed => Result == CoherenceResult.Ok;
}
