namespace Bulwark.Platform.Configuration;

/// <summary>The configuration client's fixed limits, each with its reason.</summary>
public static class ConfigClientLimits
{
    /// <summary>The contract's own bounds on the progress interval a watcher may ask for.</summary>
    public const int ProgressIntervalMillisecondsMin = 100;

    public const int ProgressIntervalMillisecondsMax = 60_000;

    /// <summary>A prefix's watch is stale after this many progress intervals without an event (the default staleness bound).</summary>
    public const int StaleAfterProgressIntervals = 3;

    /// <summary>The contract's longest key; longer keys are refused as a programmer's error.</summary>
    public const int KeyLengthMax = 200;

    /// <summary>
    /// Keys one RESYNC snapshot may bring (all its chunks together). Far beyond any real process's
    /// configuration; a bound so that a broken server cannot make the client hold chunks without end.
    /// </summary>
    public const int SnapshotEntriesMax = 100_000;

    /// <summary>The cache file is read whole: 100 000 keys of a few hundred bytes each fit well within this.</summary>
    public const int CacheFileBytesMax = 64 * 1024 * 1024;

    /// <summary>The cache file format this client writes; a file of a newer format is ignored (written by a newer Bulwark).</summary>
    public const int CacheFormatVersion = 1;

    /// <summary>
    /// A revision confirmed by progress events alone (nothing changed) is written to the cache file at
    /// most this often: the file then keeps the highest revision seen within a minute, so a restarted
    /// process still recognises a store restored from an old backup, without a disk write per progress event.
    /// </summary>
    public const int CacheRevisionSaveIntervalSeconds = 60;

    /// <summary>The watchdog looks at a stream's last event this often at most, so a silent stream is noticed promptly.</summary>
    public const int WatchdogTickMillisecondsMax = 250;
}
