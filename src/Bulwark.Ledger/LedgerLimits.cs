namespace Bulwark.Ledger;

/// <summary>
/// Every limit of the ledger in one place, named with the unit last. A request beyond a limit is
/// refused (INVALID_ARGUMENT naming the field, or a per-transfer status), never truncated.
/// </summary>
public static class LedgerLimits
{
    /// <summary>
    /// Most queue items (transfers, account creations, expiry sweeps) the writer commits in one
    /// database transaction. 8,190 keeps one batch's rows and statements well inside SQLite's page
    /// cache and matches the largest submission, so that one maximal call fits one batch.
    /// </summary>
    public const int BatchTransfersMax = 8_190;

    /// <summary>
    /// Largest payload of one ledger event: a batch's change to one partition is split into several
    /// events past it. Half the event log's record limit (1 MiB), so an event always fits a record.
    /// </summary>
    public const int EventPayloadBytesMax = 512 * 1024;

    /// <summary>Most outbox events the relay reads and appends at once (the log takes up to 10,000 per append).</summary>
    public const int RelayBatchEventsMax = 1_000;

    /// <summary>The relay's first wait after a failed append; doubled per failure up to <see cref="RelayBackoffMaxMilliseconds"/>.</summary>
    public const int RelayBackoffMinMilliseconds = 100;

    /// <summary>Longest wait between the relay's retries, so it catches up within seconds of the log coming back.</summary>
    public const int RelayBackoffMaxMilliseconds = 5_000;

    /// <summary>Most rounds a stopping relay publishes (each up to <see cref="RelayBatchEventsMax"/> events), so a stop is bounded.</summary>
    public const int RelayDrainRoundsMax = 100;

    /// <summary>The relay's poll when no commit signalled it (a safety net: commits signal it at once).</summary>
    public const int RelayIdlePollMilliseconds = 1_000;

    /// <summary>
    /// How long the relay lets commits gather after a commit woke it, unless its last round was
    /// full: at a thousand small commits a second each one woke a round of its own (an outbox read,
    /// an append, a watermark), which cost more CPU than the events. A few milliseconds of the
    /// lag budget (p99 under 1 s, R13) buy rounds of many events.
    /// </summary>
    public const int RelayLingerMillisecondsDefault = 20;

    /// <summary>Longest linger a relay accepts: past it the lag budget would be spent waiting.</summary>
    public const int RelayLingerMillisecondsMax = 200;

    /// <summary>
    /// Published events past which any batch records the relay's watermark and prunes the outbox.
    /// Otherwise only the periodic sweep's batch does (once per <see cref="ExpirySweepIntervalMillisecondsDefault"/>),
    /// not the first batch after every relay round (50 a second at a thousand small commits): each
    /// prune is one statement that scans the outbox whatever it deletes. (Measured alone, the saving
    /// was within the benchmark's noise; docs/internals/event-log.md.) A crash before the record
    /// republishes at most a second's events or this many, which the log takes as duplicates.
    /// </summary>
    public const long OutboxUnrecordedEventsMax = 10_000;

    /// <summary>
    /// Most committed events the writer keeps in memory for the relay (<see cref="Events.CommittedEvents"/>),
    /// so that the relay need not read back from the store what was just written. About five seconds
    /// of a thousand small commits a second; a relay further behind reads the outbox.
    /// </summary>
    public const int RelayCommittedEventsMax = 10_000;

    /// <summary>Most payload bytes of those events: a few batches of large events (each up to <see cref="EventPayloadBytesMax"/>).</summary>
    public const long RelayCommittedEventBytesMax = 16 * 1024 * 1024;

    /// <summary>Unpublished events past which the relay logs a warning (once per crossing).</summary>
    public const long RelayLagEventsWarning = 10_000;

    /// <summary>Age of the oldest unpublished commit past which the relay logs a warning (once per crossing).</summary>
    public const int RelayLagSecondsWarning = 30;

    /// <summary>
    /// How long a cell's start waits for the event log to say whether the store is behind it
    /// (<c>LedgerEventRelay.RefuseWhereLogIsAheadAsync</c>) before the cell serves: a log that does
    /// not answer delays a start by at most this, never stops it (the check runs again as soon as it answers).
    /// </summary>
    public const int RelayStartCheckMillisecondsDefault = 5_000;

    /// <summary>Longest wait <see cref="RelayStartCheckMillisecondsDefault"/> may be set to.</summary>
    public const int RelayStartCheckMillisecondsMax = 60_000;

    /// <summary>Most transfers in one SubmitTransfers call or one <c>SubmitAsync</c>.</summary>
    public const int SubmitTransfersMax = 8_190;

    /// <summary>Most accounts in one CreateAccounts call.</summary>
    public const int CreateAccountsMax = 8_190;

    /// <summary>Most ids in one GetAccounts or GetTransfers call.</summary>
    public const int LookupIdsMax = 8_190;

    /// <summary>
    /// Queue items waiting for the writer. When full, submitters wait (back-pressure): memory stays
    /// bounded at about this many transfers, whatever the load.
    /// </summary>
    public const int QueueCapacityItems = 65_536;

    public const int MetadataEntriesMax = 16;

    /// <summary>UTF-8 bytes of one metadata value.</summary>
    public const int MetadataValueBytesMax = 256;

    /// <summary>UTF-8 bytes of one metadata key; keys are short names such as "merchant_name".</summary>
    public const int MetadataKeyBytesMax = 64;

    public const int ListTransfersLimitMax = 200;

    public const int ListTransfersLimitDefault = 50;

    /// <summary>How often the writer is asked to expire holds whose time has passed.</summary>
    public const int ExpirySweepIntervalMillisecondsDefault = 1_000;

    /// <summary>
    /// A failing commit probe (one per sweep while not ready) is logged at most this often: the
    /// first failure, then one line a minute, not one stack trace a second. Every one is counted.
    /// </summary>
    public const int ProbeFailureLogIntervalSeconds = 60;

    /// <summary>Most holds one sweep expires; a sweep that hits it asks for another at once.</summary>
    public const int ExpiriesPerSweepMax = 4_096;

    /// <summary>Idle read connections the SQLite store keeps open with their prepared statements.</summary>
    public const int ReaderConnectionsPooledMax = 8;

    /// <summary>The largest partition count: partitions are stored as small integers.</summary>
    public const int PartitionCountMax = 65_536;

    public const int PartitionCountDefault = 256;

    /// <summary>Owed credit legs one delivery round sends (one ApplyCreditLegs call per cell it reaches).</summary>
    public const int CreditLegsPerDeliveryMax = 512;

    /// <summary>How often delivery looks for owed legs when nothing woke it: a safety net, since a batch that owes legs wakes it.</summary>
    public const int CreditLegDeliveryIdleMilliseconds = 1_000;

    /// <summary>
    /// How long a credit cell must keep answering "credit account not found" for an owed leg,
    /// asked again every round, before the money goes back to the debit account. The account was
    /// found at its owner when the transfer was taken, and accounts are never deleted: a not-found
    /// now is more likely a store that should not be answering (restored, made again) than a
    /// missing account, and a wrong return sends a customer's payment back.
    /// </summary>
    public const int CreditLegNotFoundConfirmMilliseconds = 30_000;

    /// <summary>
    /// How long a transfer to another cell's account waits for its credit leg to be delivered
    /// before it is answered anyway (OK: the leg is durable and delivered soon after).
    /// </summary>
    public const int CreditLegWaitMilliseconds = 2_000;

    /// <summary>How long one cell waits for another (a credit account's check, a delivery) before trying again later.</summary>
    public const int CellCallDeadlineSeconds = 5;

    /// <summary>Credit accounts of other cells whose identity a cell remembers (identities never change).</summary>
    public const int RemoteAccountsCachedMax = 100_000;

    /// <summary>Transfer rows one export chunk of a partition move carries (one gRPC message, well under its 4 MiB limit).</summary>
    public const int MoveRowsPerChunk = 5_000;

    /// <summary>How long a partition paused for a move stays paused without its release before it is served again by itself.</summary>
    public const int MovePauseLeaseMillisecondsDefault = 5_000;

    public const int MovePauseLeaseMillisecondsMax = 60_000;
}
