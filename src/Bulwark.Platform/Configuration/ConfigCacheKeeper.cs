using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Configuration;

/// <summary>
/// Keeps the view's last good values in the cache file (<see cref="ConfigCacheFile"/>): loads it
/// once when the client is made, and writes it after every change of content, and at most every
/// <see cref="ConfigClientLimits.CacheRevisionSaveIntervalSeconds"/> when only progress moved a
/// prefix's revision. A file that cannot be used, or cannot be written, is counted and logged,
/// never thrown: the file is a copy, never the truth, and start-up must not fail on it.
/// </summary>
internal sealed partial class ConfigCacheKeeper(string? path, ConfigView view, ConfigClientMetrics metrics, TimeProvider time, ILogger logger)
{
    private readonly Lock _lock = new();
    private IReadOnlyDictionary<string, long> _savedRevisions = new Dictionary<string, long>(StringComparer.Ordinal);
    private long _lastSaveTimestamp;
    private long _unusable;

    /// <summary>Cache files that could not be used (0 or 1: the file is read once).</summary>
    public long UnusableCount => Interlocked.Read(ref _unusable);

    /// <summary>Loads the file into the view; returns how many keys it gave (0 when there is no usable file).</summary>
    public int Load()
    {
        if (path is null)
        {
            return 0;
        }
        var content = ConfigCacheFile.Load(path, out var problem, out var detail);
        if (problem is { } reason)
        {
            Interlocked.Increment(ref _unusable);
            metrics.CacheUnusable(reason);
            LogCacheUnusable(path, reason, detail ?? "");
            return 0;
        }
        if (content is null)
        {
            return 0;
        }
        var loaded = view.Load(content.Entries, content.Revisions);
        lock (_lock)
        {
            _savedRevisions = content.Revisions;
        }
        LogCacheLoaded(loaded, path, content.SavedAt);
        return loaded;
    }

    /// <summary>After an answer of the service for <paramref name="prefix"/> was applied: writes the file when it is due.</summary>
    public void AfterApply(string prefix, bool contentChanged)
    {
        if (path is null)
        {
            return;
        }
        lock (_lock)
        {
            var revisionDue = view.RevisionOf(prefix) > _savedRevisions.GetValueOrDefault(prefix)
                && time.GetElapsedTime(_lastSaveTimestamp) >= TimeSpan.FromSeconds(ConfigClientLimits.CacheRevisionSaveIntervalSeconds);
            if (contentChanged || revisionDue)
            {
                SaveLocked(path);
            }
        }
    }

    private void SaveLocked(string file)
    {
        var (entries, revisions) = view.Copy();
        _lastSaveTimestamp = time.GetTimestamp();
        try
        {
            ConfigCacheFile.Save(file, new ConfigCacheContent(entries, revisions, time.GetUtcNow()));
            _savedRevisions = revisions;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            metrics.CacheWriteFailed();
            LogCacheUnwritable(file, error.Message);
        }
    }

    [LoggerMessage(EventId = 4614, Level = LogLevel.Warning, Message = "Cache of last good configuration {Path} not used ({Reason}: {Detail}); starting without it")]
    private partial void LogCacheUnusable(string path, ConfigCacheProblem reason, string detail);

    [LoggerMessage(EventId = 4615, Level = LogLevel.Information, Message = "Loaded {Keys} last good configuration value(s) from {Path}, saved at {SavedAt:O}")]
    private partial void LogCacheLoaded(int keys, string path, DateTimeOffset savedAt);

    [LoggerMessage(EventId = 4616, Level = LogLevel.Warning, Message = "Cache of last good configuration {Path} cannot be written: {Problem}")]
    private partial void LogCacheUnwritable(string path, string problem);
}
