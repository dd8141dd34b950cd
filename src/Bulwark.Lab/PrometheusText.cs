using System.Globalization;

namespace Bulwark.Lab;

/// <summary>Reading the Prometheus text format the lab's processes export (etcd's and Bulwark's <c>/metrics</c>).</summary>
public static class PrometheusText
{
    /// <summary>The first sample of a Prometheus gauge in text format (the name, optional labels, a value).</summary>
    public static double? ParseGauge(string metrics, string name)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length <= name.Length || line[name.Length] is not ('{' or ' '))
            {
                continue;
            }
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var valueIndex = line[name.Length] == '{' ? Array.FindIndex(parts, p => p.EndsWith('}')) + 1 : 1;
            if (valueIndex > 0 && valueIndex < parts.Length
                && double.TryParse(parts[valueIndex], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }
        }
        return null;
    }
}
