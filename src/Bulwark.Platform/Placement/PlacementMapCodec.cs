using System.Globalization;
using System.Text.Json;

namespace Bulwark.Platform.Placement;

/// <summary>
/// The placement map's JSON encoding, strict on read: a map is the one record every ledger
/// client routes by, so anything doubtful is refused with the field named, never guessed at
/// (a duplicate key, an unknown field, a gap in the partitions). Runs of consecutive partitions
/// with the same owner and epoch are written as one range, so a map stays small:
/// <code>
/// { "formatVersion": 1, "clusterId": "…", "version": 7, "partitionCount": 256,
///   "cells": { "a": { "store": "postgres://ledger@db-a/ledger" }, "b": {} },
///   "partitions": [ { "first": 0, "last": 127, "cell": "a", "epoch": 1 }, … ] }
/// </code>
/// </summary>
public static class PlacementMapCodec
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 8 };

    public static byte[] Encode(PlacementMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("formatVersion", map.FormatVersion);
            writer.WriteString("clusterId", map.ClusterId);
            writer.WriteNumber("version", map.Version);
            writer.WriteNumber("partitionCount", map.PartitionCount);
            writer.WriteStartObject("cells");
            foreach (var (name, info) in map.Cells.OrderBy(cell => cell.Key, StringComparer.Ordinal))
            {
                writer.WriteStartObject(name);
                if (info.Store is not null)
                {
                    writer.WriteString("store", info.Store);
                }
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
            writer.WriteStartArray("partitions");
            var first = 0;
            for (var partition = 1; partition <= map.PartitionCount; partition++)
            {
                if (partition < map.PartitionCount && map.Partitions[partition] == map.Partitions[first])
                {
                    continue;
                }
                writer.WriteStartObject();
                writer.WriteNumber("first", first);
                writer.WriteNumber("last", partition - 1);
                writer.WriteString("cell", map.Partitions[first].Cell);
                writer.WriteNumber("epoch", map.Partitions[first].Epoch);
                writer.WriteEndObject();
                first = partition;
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>Decodes a stored map or throws <see cref="PlacementMapException"/> naming the field at fault.</summary>
    public static PlacementMap Decode(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > PlacementLimits.EncodedBytesMax)
        {
            throw Malformed("$", $"{utf8.Length} bytes; a map is at most {PlacementLimits.EncodedBytesMax}");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8.ToArray(), DocumentOptions);
        }
        catch (JsonException error)
        {
            throw Malformed("$", $"not JSON ({error.Message})");
        }
        using (document)
        {
            var root = Object(document.RootElement, "$");
            // The format version first: a newer Bulwark may have written fields this one does not know.
            var formatVersion = Int32(Required(root, "formatVersion", "$"), "formatVersion");
            if (formatVersion > PlacementMap.FormatVersionCurrent)
            {
                throw new PlacementMapException(PlacementMapUnusableReason.NewerFormat, "formatVersion",
                    $"format version {formatVersion} was written by a newer Bulwark (this one reads up to {PlacementMap.FormatVersionCurrent}): keep the last good map");
            }
            Only(root, "$", "formatVersion", "clusterId", "version", "partitionCount", "cells", "partitions");
            var clusterId = String(Required(root, "clusterId", "$"), "clusterId");
            var version = Int64(Required(root, "version", "$"), "version");
            var partitionCount = Int32(Required(root, "partitionCount", "$"), "partitionCount");
            if (partitionCount < 1 || partitionCount > PlacementLimits.PartitionCountMax)
            {
                throw new PlacementMapException(PlacementMapUnusableReason.Invalid, "partitionCount", $"{partitionCount}; a map has 1..{PlacementLimits.PartitionCountMax} partitions");
            }
            var cells = ReadCells(Required(root, "cells", "$"));
            var partitions = ReadPartitions(Required(root, "partitions", "$"), partitionCount, cells);
            return new PlacementMap(formatVersion, clusterId, version, cells, partitions);
        }
    }

    private static Dictionary<string, CellInfo> ReadCells(JsonElement element)
    {
        var cells = new Dictionary<string, CellInfo>(StringComparer.Ordinal);
        foreach (var cell in Object(element, "cells"))
        {
            var field = $"cells.{cell.Name}";
            if (!PlacementMap.IsValidCellName(cell.Name))
            {
                throw new PlacementMapException(PlacementMapUnusableReason.Invalid, field,
                    $"cell name '{cell.Name}' is not 1..{PlacementLimits.CellNameLengthMax} of [a-z0-9-] (not starting or ending with '-')");
            }
            var properties = Object(cell.Value, field);
            Only(properties, field, "store");
            var store = properties.FirstOrDefault(property => property.Name == "store");
            cells[cell.Name] = new CellInfo(store.Value.ValueKind == JsonValueKind.Undefined ? null : String(store.Value, $"{field}.store"));
        }
        return cells;
    }

    private static PartitionPlacement[] ReadPartitions(JsonElement element, int partitionCount, Dictionary<string, CellInfo> cells)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw Malformed("partitions", $"an array is expected, got {element.ValueKind}");
        }
        var partitions = new PartitionPlacement[partitionCount];
        var next = 0;
        var index = 0;
        foreach (var range in element.EnumerateArray())
        {
            var field = $"partitions[{index++}]";
            var properties = Object(range, field);
            Only(properties, field, "first", "last", "cell", "epoch");
            var first = Int32(Required(properties, "first", field), $"{field}.first");
            var last = Int32(Required(properties, "last", field), $"{field}.last");
            var cell = String(Required(properties, "cell", field), $"{field}.cell");
            var epoch = Int64(Required(properties, "epoch", field), $"{field}.epoch");
            if (first != next)
            {
                throw Invalid($"{field}.first", first < next
                    ? $"partition {first} is placed twice"
                    : $"partitions {next}..{first - 1} are not placed (ranges must cover 0..{partitionCount - 1} in order)");
            }
            if (last < first || last >= partitionCount)
            {
                throw Invalid($"{field}.last", $"{last} is not in {first}..{partitionCount - 1}");
            }
            if (!cells.ContainsKey(cell))
            {
                throw Invalid($"{field}.cell", $"cell '{cell}' is not in cells");
            }
            if (epoch < 1)
            {
                throw Invalid($"{field}.epoch", $"epoch {epoch}; epochs start at 1");
            }
            for (var partition = first; partition <= last; partition++)
            {
                partitions[partition] = new PartitionPlacement(cell, epoch);
            }
            next = last + 1;
        }
        if (next != partitionCount)
        {
            throw Invalid("partitions", $"partitions {next}..{partitionCount - 1} are not placed (ranges must cover 0..{partitionCount - 1})");
        }
        return partitions;
    }

    /// <summary>The object's properties, refusing a duplicate key (JSON allows one; a map must not: which of the two would be meant?).</summary>
    private static List<JsonProperty> Object(JsonElement element, string field)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw Malformed(field, $"an object is expected, got {element.ValueKind}");
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var properties = new List<JsonProperty>();
        foreach (var property in element.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                throw Malformed(field == "$" ? property.Name : $"{field}.{property.Name}", "the key appears twice");
            }
            properties.Add(property);
        }
        return properties;
    }

    private static void Only(List<JsonProperty> properties, string field, params string[] known)
    {
        foreach (var property in properties)
        {
            if (!known.Contains(property.Name, StringComparer.Ordinal))
            {
                throw Malformed(field == "$" ? property.Name : $"{field}.{property.Name}", "unknown field");
            }
        }
    }

    private static JsonElement Required(List<JsonProperty> properties, string name, string field)
    {
        foreach (var property in properties)
        {
            if (property.Name == name)
            {
                return property.Value;
            }
        }
        throw Malformed(field == "$" ? name : $"{field}.{name}", "missing");
    }

    private static int Int32(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var value)
            ? value
            : throw Malformed(field, $"a 32-bit integer is expected, got {Describe(element)}");

    private static long Int64(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var value)
            ? value
            : throw Malformed(field, $"a 64-bit integer is expected, got {Describe(element)}");

    private static string String(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.String
            ? element.GetString()!
            : throw Malformed(field, $"a string is expected, got {Describe(element)}");

    private static string Describe(JsonElement element) =>
        element.ValueKind is JsonValueKind.Number or JsonValueKind.String
            ? string.Create(CultureInfo.InvariantCulture, $"{element.ValueKind} {element.GetRawText()}")
            : element.ValueKind.ToString();

    private static PlacementMapException Malformed(string field, string message) => new(PlacementMapUnusableReason.Malformed, field, message);

    private static PlacementMapException Invalid(string field, string message) => new(PlacementMapUnusableReason.Invalid, field, message);
}
