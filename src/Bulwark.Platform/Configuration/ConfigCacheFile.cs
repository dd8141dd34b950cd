using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Bulwark.Platform.Security;

namespace Bulwark.Platform.Configuration;

/// <summary>Why a cache file was not used.</summary>
public enum ConfigCacheProblem
{
    /// <summary>Could not be read (permissions, I/O error) or is larger than <see cref="ConfigClientLimits.CacheFileBytesMax"/>.</summary>
    Unreadable,

    /// <summary>Not a configuration cache: no header line, or a header this client cannot parse.</summary>
    NotACache,

    /// <summary>Written by a newer Bulwark (a format version above <see cref="ConfigClientLimits.CacheFormatVersion"/>).</summary>
    NewerFormat,

    /// <summary>The bytes do not match their checksum: a torn write by something else, a disk error, an edit by hand.</summary>
    ChecksumMismatch,

    /// <summary>The checksum matches but the content is not what this client writes.</summary>
    Malformed,
}

/// <summary>What a cache file held.</summary>
internal sealed record ConfigCacheContent(IReadOnlyList<ConfigEntry> Entries, IReadOnlyDictionary<string, long> Revisions, DateTimeOffset SavedAt);

/// <summary>
/// The last known good values on disk, so that a process started while the configuration service
/// is away has them at once (R14, as discovery's snapshot does for R5). The file is one header line
/// <c>bulwark-config-cache &lt;format&gt; sha256:&lt;hex&gt;</c> and then the JSON content the checksum
/// covers. Written atomically: a 0600 temporary file in the same directory (0700), flushed to the
/// device, renamed over the old one, so a crash leaves the old file or the new one, never half of
/// one. A file that cannot be used is reported, never thrown: start-up must not fail on it.
/// </summary>
internal static class ConfigCacheFile
{
    public const string Magic = "bulwark-config-cache";
    private const string ChecksumLabel = "sha256:";

    private static readonly JsonSerializerOptions Json = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };

    private sealed record FileContent(
        [property: JsonPropertyName("savedAt")] DateTimeOffset SavedAt,
        [property: JsonPropertyName("revisions")] Dictionary<string, long> Revisions,
        [property: JsonPropertyName("entries")] List<FileEntry> Entries);

    private sealed record FileEntry(
        [property: JsonPropertyName("key")] string Key,
        [property: JsonPropertyName("value")] string Value,
        [property: JsonPropertyName("version")] long Version,
        [property: JsonPropertyName("deleted")] bool Deleted);

    /// <summary>The file's bytes for <paramref name="content"/>.</summary>
    public static byte[] Encode(ConfigCacheContent content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var body = JsonSerializer.SerializeToUtf8Bytes(new FileContent(
            content.SavedAt,
            new Dictionary<string, long>(content.Revisions, StringComparer.Ordinal),
            [.. content.Entries.Select(entry => new FileEntry(entry.Key, entry.Value, entry.Version, entry.Deleted))]), Json);
        var header = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{Magic} {ConfigClientLimits.CacheFormatVersion} {ChecksumLabel}{Convert.ToHexStringLower(SHA256.HashData(body))}\n"));
        return [.. header, .. body];
    }

    /// <summary>Decodes a file's bytes, or says why they cannot be used.</summary>
    public static ConfigCacheContent? Decode(ReadOnlySpan<byte> bytes, out ConfigCacheProblem? problem, out string? detail)
    {
        problem = ConfigCacheProblem.NotACache;
        var newline = bytes.IndexOf((byte)'\n');
        if (newline <= 0)
        {
            detail = "no header line";
            return null;
        }
        var header = Encoding.ASCII.GetString(bytes[..newline]).Split(' ');
        if (header.Length != 3 || header[0] != Magic || !int.TryParse(header[1], NumberStyles.None, CultureInfo.InvariantCulture, out var format)
            || !header[2].StartsWith(ChecksumLabel, StringComparison.Ordinal))
        {
            detail = "the header is not a configuration cache's";
            return null;
        }
        if (format > ConfigClientLimits.CacheFormatVersion)
        {
            problem = ConfigCacheProblem.NewerFormat;
            detail = $"format {format}, written by a newer Bulwark (this one reads up to {ConfigClientLimits.CacheFormatVersion})";
            return null;
        }
        var body = bytes[(newline + 1)..];
        if (!string.Equals(header[2][ChecksumLabel.Length..], Convert.ToHexStringLower(SHA256.HashData(body)), StringComparison.Ordinal))
        {
            problem = ConfigCacheProblem.ChecksumMismatch;
            detail = "the content does not match its checksum";
            return null;
        }
        problem = ConfigCacheProblem.Malformed;
        try
        {
            var file = JsonSerializer.Deserialize<FileContent>(body, Json);
            if (file?.Entries is null || file.Revisions is null || file.Entries.Any(entry => entry is null || string.IsNullOrEmpty(entry.Key) || entry.Value is null || entry.Version <= 0))
            {
                detail = "missing or empty fields";
                return null;
            }
            problem = null;
            detail = null;
            return new ConfigCacheContent(
                [.. file.Entries.Select(entry => new ConfigEntry(entry.Key, entry.Deleted ? "" : entry.Value, entry.Version, entry.Deleted))],
                file.Revisions,
                file.SavedAt);
        }
        catch (JsonException error)
        {
            detail = error.Message;
            return null;
        }
    }

    /// <summary>
    /// Reads the file. Null without a problem when there is none (a first start); null with a
    /// problem when it cannot be used.
    /// </summary>
    public static ConfigCacheContent? Load(string path, out ConfigCacheProblem? problem, out string? detail)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        problem = null;
        detail = null;
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > ConfigClientLimits.CacheFileBytesMax)
            {
                problem = ConfigCacheProblem.Unreadable;
                detail = $"{stream.Length} bytes, above the limit of {ConfigClientLimits.CacheFileBytesMax}";
                return null;
            }
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return Decode(bytes, out problem, out detail);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            problem = ConfigCacheProblem.Unreadable;
            detail = error.Message;
            return null;
        }
    }

    /// <summary>Writes the file atomically, private to this user (see the class).</summary>
    public static void Save(string path, ConfigCacheContent content)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var bytes = Encode(content);
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        PrivateFiles.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = PrivateFiles.FileMode;
            }
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}
