namespace Bulwark.Config;

/// <summary>
/// Every limit of the configuration service in one place, with the reason for each number. A
/// request beyond a limit is refused with INVALID_ARGUMENT naming the field, or RESOURCE_EXHAUSTED
/// for a value over <see cref="ValueBytesMax"/> (config.proto).
/// </summary>
public static class ConfigLimits
{
    /// <summary>The contract's longest key: room for a few path segments, short enough to index cheaply.</summary>
    public const int KeyLengthMax = 200;

    /// <summary>
    /// The largest value, in UTF-8 bytes (64 KiB). Configuration is small (an allow-list, a limit, a
    /// feature flag); a larger document belongs in a store of its own, and this cap keeps every
    /// change, history page and watch event far below the 4 MiB gRPC message limit.
    /// </summary>
    public const int ValueBytesMax = 64 * 1024;

    /// <summary>The longest reason a change may carry: a sentence or two, and a ticket reference.</summary>
    public const int ReasonLengthMax = 500;

    /// <summary>The longest caller name recorded as <c>changed_by</c> (a staff member's or a service's name).</summary>
    public const int ActorLengthMax = 100;

    /// <summary>Keys in one List page when the request names no limit.</summary>
    public const int ListLimitDefault = 500;

    /// <summary>
    /// The most keys in one List page: at the largest values a page could exceed the message
    /// limit, so the service also stops a page early at <see cref="PageBytesMax"/>.
    /// </summary>
    public const int ListLimitMax = 1_000;

    /// <summary>Changes in one History page when the request names no limit.</summary>
    public const int HistoryLimitDefault = 100;

    public const int HistoryLimitMax = 500;

    /// <summary>
    /// The most bytes of entries in one List or History page, or one RESYNC event (3 MiB): under
    /// the 4 MiB gRPC message limit with room for the envelope. A page that reaches it ends early
    /// with <c>more</c> set.
    /// </summary>
    public const int PageBytesMax = 3 * 1024 * 1024;

    /// <summary>A watch's progress interval when the request names none.</summary>
    public const int ProgressIntervalMillisecondsDefault = 5_000;

    /// <summary>Below this a quiet watch would be mostly progress events.</summary>
    public const int ProgressIntervalMillisecondsMin = 100;

    /// <summary>A watcher must hear from a live stream at least once a minute to tell it from a stalled one.</summary>
    public const int ProgressIntervalMillisecondsMax = 60_000;

    /// <summary>
    /// Changes a watcher reads from the store at once. Each is at most 64 KiB of value, so one
    /// batch — all a watcher ever holds besides a snapshot chunk — stays under about 4 MiB.
    /// </summary>
    public const int WatchBatchChangesMax = 64;

    /// <summary>
    /// How often the service reads the store's revision while anyone watches, to hear of commits
    /// made through another instance on the same PostgreSQL database (a commit in this process
    /// wakes its watchers at once). A quarter of a second is quick enough for configuration and
    /// costs one indexed one-row read per instance, however many watch.
    /// </summary>
    public const int WatchPollIntervalMillisecondsDefault = 250;

    /// <summary>
    /// How long one watch event may wait to be written to a watcher that does not read. Past it
    /// the watcher is ended with RESOURCE_EXHAUSTED (it reconnects and resumes from the last
    /// revision it has), so a stuck client cannot hold the service's memory or a stream forever.
    /// </summary>
    public const int WatchWriteStallMillisecondsDefault = 30_000;

    /// <summary>Polling faster than this would be a busy loop on the store.</summary>
    public const int WatchPollIntervalMillisecondsMin = 10;

    /// <summary>Polling slower than this would leave another instance's watchers too far behind.</summary>
    public const int WatchPollIntervalMillisecondsMax = 10_000;
}
