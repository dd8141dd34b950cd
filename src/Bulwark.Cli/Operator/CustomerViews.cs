using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Accounts.Protos;

namespace Bulwark.Cli.Operator;

/// <summary>How operator commands print: aligned tables for people, JSON (amounts in minor units) for scripts.</summary>
internal static class CustomerViews
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        // Names such as O'Brien stay readable; the output is not embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Minor units as major units with two decimals and thousands separators, e.g. -1,234.56.</summary>
    public static string Money(long minor) => (minor / 100m).ToString("N2", CultureInfo.InvariantCulture);

    public static string Time(long unixMilliseconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string IsoTime(long unixMilliseconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds).ToString("O", CultureInfo.InvariantCulture);

    /// <summary>A UK sort code as people write it: 04-00-75.</summary>
    public static string SortCode(string digits) => digits.Length == 6 ? $"{digits[..2]}-{digits[2..4]}-{digits[4..]}" : digits;

    public static JsonObject ToJson(Customer customer)
    {
        ArgumentNullException.ThrowIfNull(customer);
        return new JsonObject
        {
            ["customerId"] = customer.CustomerId,
            ["name"] = customer.Name,
            ["email"] = customer.Email,
            ["createdAt"] = IsoTime(customer.CreatedAtUnixMs),
        };
    }

    /// <summary>Writes rows under headers, each column as wide as its widest cell, two spaces apart.</summary>
    public static async Task WriteTableAsync(TextWriter output, string[] headers, IEnumerable<string[]> rows)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(headers);
        var all = new List<string[]> { headers };
        all.AddRange(rows);
        var widths = headers.Select((_, column) => all.Max(row => row[column].Length)).ToArray();
        foreach (var row in all)
        {
            var cells = row.Select((cell, column) => column == row.Length - 1 ? cell : cell.PadRight(widths[column]));
            await output.WriteLineAsync(string.Join("  ", cells).TrimEnd());
        }
    }
}
