using System.Globalization;

namespace Bulwark.Edge.Staff.Ops;

/// <summary>One sample of the Prometheus text format: a metric name, its labels and its value.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// The samples of a Prometheus text exposition (what every Bulwark process serves at <c>/metrics</c>).
/// The lab's <c>PrometheusText.ParseGauge</c> reads one gauge for the CLI; the ops view needs every
/// sample of a few metrics with their labels (cells, result codes), and the edge does not reference
/// the lab. Lines it cannot read are skipped: one odd line must not hide an instance's other metrics.
/// </summary>
public static class PrometheusSamples
{
    public static IReadOnlyList<PrometheusSample> Parse(string text, Func<string, bool> wanted)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(wanted);
        var samples = new List<PrometheusSample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var nameEnd = line.IndexOfAny([' ', '{']);
            if (nameEnd <= 0 || !wanted(line[..nameEnd]))
            {
                continue;
            }
            if (TryParse(line, nameEnd) is { } sample)
            {
                samples.Add(sample);
            }
        }
        return samples;
    }

    private static PrometheusSample? TryParse(string line, int nameEnd)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = nameEnd;
        if (line[nameEnd] == '{')
        {
            var close = ReadLabels(line, nameEnd + 1, labels);
            if (close < 0)
            {
                return null;
            }
            rest = close + 1;
        }
        var parts = line[rest..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }
        return new PrometheusSample(line[..nameEnd], labels, value);
    }

    /// <summary>Reads <c>name="value",…</c> up to the closing brace; answers its index, or -1 when the line is malformed.</summary>
    private static int ReadLabels(string line, int at, Dictionary<string, string> labels)
    {
        while (at < line.Length)
        {
            if (line[at] == '}')
            {
                return at;
            }
            if (line[at] == ',')
            {
                at++;
                continue;
            }
            var equals = line.IndexOf('=', at);
            if (equals < 0 || equals + 1 >= line.Length || line[equals + 1] != '"')
            {
                return -1;
            }
            var name = line[at..equals].Trim();
            var value = new System.Text.StringBuilder();
            var i = equals + 2;
            for (; i < line.Length && line[i] != '"'; i++)
            {
                if (line[i] == '\\' && i + 1 < line.Length)
                {
                    i++;
                    value.Append(line[i] == 'n' ? '\n' : line[i]);
                    continue;
                }
                value.Append(line[i]);
            }
            if (i >= line.Length)
            {
                return -1;
            }
            labels[name] = value.ToString();
            at = i + 1;
        }
        return -1;
    }
}
