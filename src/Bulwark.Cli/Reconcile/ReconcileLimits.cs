namespace Bulwark.Cli.Reconcile;

/// <summary>The limits of <c>bulwark reconcile</c>, with the reason for each number.</summary>
internal static class ReconcileLimits
{
    /// <summary>Findings listed per check; beyond this they are counted. A bank with more needs the runbook, not a longer table.</summary>
    public const int FindingsListedMax = 1_000;

    /// <summary>Records asked for per page of a service's list call: every list method takes this many (the ledger's ListAccountTransfers at most 200), and the replies stay small.</summary>
    public const int PageSize = 200;

    /// <summary>Transfer ids per GetTransfers call: a few KB of request, a reply of at most a few hundred KB.</summary>
    public const int TransfersPerLookupMax = 200;

    /// <summary>How long --repair waits for owed credit legs to be delivered by the ledger's own retrying delivery before handing them to a person.</summary>
    public const int CreditLegWaitSecondsMax = 30;

    /// <summary>Reads of a cell's partitions whose log has not settled on the store's snapshot before they are listed in flight.</summary>
    public const int EventLogAttemptsMax = 4;

    /// <summary>Seconds between two such reads.</summary>
    public const int EventLogRetrySeconds = 2;
}
