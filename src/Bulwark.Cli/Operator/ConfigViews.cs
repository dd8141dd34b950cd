using System.Text.Json.Nodes;
using Bulwark.Config.Protos;

namespace Bulwark.Cli.Operator;

/// <summary>How <c>bulwark config</c> prints entries: lines for people, JSON for scripts.</summary>
internal static class ConfigViews
{
    /// <summary>A value longer than this is cut in tables (JSON always has it whole).</summary>
    public const int TableValueLengthMax = 60;

    public static JsonObject ToJson(Entry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return new JsonObject
        {
            ["key"] = entry.Key,
            ["version"] = entry.Version,
            ["deleted"] = entry.Deleted,
            ["value"] = entry.Deleted ? null : entry.Value,
            ["changedAt"] = CustomerViews.IsoTime(entry.ChangedAtMs),
            ["changedBy"] = entry.ChangedBy,
            ["reason"] = entry.Reason,
        };
    }

    /// <summary>The value for a table cell: one line, cut to <see cref="TableValueLengthMax"/>; "(deleted)" for a tombstone.</summary>
    public static string Cell(Entry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Deleted)
        {
            return "(deleted)";
        }
        var line = entry.Value.ReplaceLineEndings(" ");
        return line.Length > TableValueLengthMax ? line[..(TableValueLengthMax - 1)] + "…" : line;
    }

    /// <summary>"at TIME UTC by WHO: REASON".</summary>
    public static string Provenance(Entry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return $"at {CustomerViews.Time(entry.ChangedAtMs)} UTC by {entry.ChangedBy}: {entry.Reason}";
    }

    /// <summary>One change as a watch line: "REVISION KEY = VALUE" or "REVISION KEY deleted", with its provenance.</summary>
    public static string ChangeLine(Entry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var what = entry.Deleted ? "deleted" : "= " + Cell(entry);
        return $"{entry.Version} {entry.Key} {what} ({Provenance(entry)})";
    }
}
