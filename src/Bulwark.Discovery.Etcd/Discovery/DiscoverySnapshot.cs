using System.Text.Json;
using System.Text.Json.Serialization;
using Bulwark.Platform.Registry;

namespace Bulwark.Discovery.Etcd.Discovery;

/// <summary>
/// Rule R5: the last-known-good view on disk. Written atomically (temporary file, flushed to the
/// device, then renamed over the old one) so a crash mid-write leaves the previous snapshot whole.
/// Loaded views are never authoritative: they are what to route on until etcd answers again.
/// </summary>
public static class DiscoverySnapshot
{
    private sealed record SnapshotFile(
        [property: JsonPropertyName("savedAt")] DateTimeOffset SavedAt,
        [property: JsonPropertyName("revision")] long Revision,
        [property: JsonPropertyName("services")] List<SnapshotService> Services);

    private sealed record SnapshotService(
        [property: JsonPropertyName("service")] string Service,
        [property: JsonPropertyName("detail")] string? Detail,
        [property: JsonPropertyName("instances")] List<SnapshotInstance> Instances);

    private sealed record SnapshotInstance(
        [property: JsonPropertyName("instanceId")] string InstanceId,
        [property: JsonPropertyName("address")] string Address,
        [property: JsonPropertyName("version")] string Version);

    public static void Save(string path, IEnumerable<ServiceView> views, long revision, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(views);
        var file = new SnapshotFile(now, revision, [.. views
            .OrderBy(view => view.Service, StringComparer.Ordinal)
            .Select(view => new SnapshotService(view.Service, view.Detail,
                [.. view.Instances.Select(i => new SnapshotInstance(i.InstanceId, i.Address, i.Version))]))]);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                JsonSerializer.Serialize(stream, file, DiscoveryRecords.Json);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>
    /// Loads a snapshot, or returns false when there is none or it cannot be read (a damaged
    /// snapshot is reported by <paramref name="error"/>, never thrown: R1 applies to files too).
    /// Each service is taken on its own; a broken entry is skipped.
    /// </summary>
    public static bool TryLoad(string path, out IReadOnlyList<ServiceView> views, out long revision, out DateTimeOffset savedAt, out string? error)
    {
        views = [];
        revision = 0;
        savedAt = default;
        error = null;
        if (!File.Exists(path))
        {
            error = "no snapshot file";
            return false;
        }
        try
        {
            var file = JsonSerializer.Deserialize<SnapshotFile>(File.ReadAllBytes(path), DiscoveryRecords.Json);
            if (file?.Services is null)
            {
                error = "empty or null snapshot";
                return false;
            }
            var loaded = new List<ServiceView>();
            foreach (var service in file.Services)
            {
                if (service?.Service is not { Length: > 0 } || service.Instances is null)
                {
                    continue;
                }
                var instances = service.Instances
                    .Where(i => i is { InstanceId.Length: > 0, Address.Length: > 0 })
                    .Select(i => new ServiceInstance(service.Service, i.InstanceId, i.Address, i.Version ?? "unknown"))
                    .ToList();
                loaded.Add(new ServiceView(service.Service, instances, file.Revision, Authoritative: false) { Detail = service.Detail });
            }
            views = loaded;
            revision = file.Revision;
            savedAt = file.SavedAt;
            return true;
        }
        catch (Exception exception) when (exception is JsonException or IOException or UnauthorizedAccessException)
        {
            error = exception.Message;
            return false;
        }
    }
}
