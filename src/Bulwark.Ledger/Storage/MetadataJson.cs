using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Bulwark.Ledger.Storage;

/// <summary>
/// Transfer metadata as stored: a flat JSON object of strings with keys in ordinal order (so that
/// equal maps are stored as equal text), or null when there is none.
/// </summary>
public static class MetadataJson
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _buffer;

    public static string? Serialize(IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (metadata.Count == 0)
        {
            return null;
        }
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var key in metadata.Keys.Order(StringComparer.Ordinal))
            {
                writer.WriteString(key, metadata[key]);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static IReadOnlyDictionary<string, string> Parse(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return LedgerTransfer.NoMetadata;
        }
        using var document = JsonDocument.Parse(json);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            result[property.Name] = property.Value.GetString() ?? "";
        }
        return result;
    }
}
