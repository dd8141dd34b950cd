using System.Globalization;
using System.Text.Json;
using Bulwark.Edge.Problems;

namespace Bulwark.Edge.Api;

/// <summary>
/// Reads named fields of a JSON request object and collects every problem with them, so that one
/// answer names all bad fields at once. Call <see cref="ThrowIfInvalid"/> after reading.
/// </summary>
internal sealed class RequestFields(JsonElement root)
{
    private const int CurrencyFieldLengthMax = 16;
    private static readonly string AmountRule = string.Create(CultureInfo.InvariantCulture,
        $"a whole number of minor units (1250 is 12.50) from 1 to {EdgeLimits.AmountMaxMinor} ({MajorUnits(EdgeLimits.AmountMaxMinor)})");

    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsValid => _errors.Count == 0;

    public void Fail(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            list = [];
            _errors[field] = list;
        }
        list.Add(message);
    }

    public string? RequiredString(string field, int lengthMax)
    {
        if (!root.TryGetProperty(field, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            Fail(field, $"{field} is required.");
            return null;
        }
        var value = StringValue(field, element, lengthMax);
        if (value is { Length: 0 })
        {
            Fail(field, $"{field} must not be empty.");
            return null;
        }
        return value;
    }

    public string? OptionalString(string field, int lengthMax)
    {
        if (!root.TryGetProperty(field, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return StringValue(field, element, lengthMax);
    }

    /// <summary>A positive amount in minor units that fits a long; JSON numbers like 1e30 or 12.5 are refused.</summary>
    public long? RequiredAmount(string field)
    {
        if (!root.TryGetProperty(field, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            Fail(field, $"{field} is required: {AmountRule}.");
            return null;
        }
        if (element.ValueKind != JsonValueKind.Number)
        {
            Fail(field, $"{field} must be a JSON number: {AmountRule}.");
            return null;
        }
        if (!element.TryGetInt64(out var value))
        {
            Fail(field, $"{field} must be {AmountRule}; {Shorten(element.GetRawText())} is not.");
            return null;
        }
        if (value <= 0)
        {
            Fail(field, $"{field} must be greater than zero.");
            return null;
        }
        if (value > EdgeLimits.AmountMaxMinor)
        {
            Fail(field, TooLarge(field));
            return null;
        }
        return value;
    }

    /// <summary>true or false; absent or null means false.</summary>
    public bool OptionalBoolean(string field)
    {
        if (!root.TryGetProperty(field, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return false;
        }
        if (element.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            Fail(field, $"{field} must be true or false.");
            return false;
        }
        return element.GetBoolean();
    }

    /// <summary>A whole number from 0 up that fits a long; absent means 0.</summary>
    public long OptionalNonNegativeAmount(string field)
    {
        if (!root.TryGetProperty(field, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return 0;
        }
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var value))
        {
            Fail(field, string.Create(CultureInfo.InvariantCulture,
                $"{field} must be a whole number of minor units from 0 to {EdgeLimits.AmountMaxMinor} ({MajorUnits(EdgeLimits.AmountMaxMinor)})."));
            return 0;
        }
        if (value < 0)
        {
            Fail(field, $"{field} must not be negative.");
            return 0;
        }
        if (value > EdgeLimits.AmountMaxMinor)
        {
            Fail(field, TooLarge(field));
            return 0;
        }
        return value;
    }

    /// <summary>An ISO 4217 currency code in capitals, known to the edge.</summary>
    public string? RequiredCurrency(string field)
    {
        var value = RequiredString(field, CurrencyFieldLengthMax);
        if (value is null)
        {
            return null;
        }
        if (!Currencies.IsKnown(value))
        {
            Fail(field, $"{field} must be an ISO 4217 currency code in capitals such as GBP; '{Shorten(value)}' is not one.");
            return null;
        }
        return value;
    }

    public void ThrowIfInvalid()
    {
        if (_errors.Count == 0)
        {
            return;
        }
        var errors = _errors.ToDictionary(pair => pair.Key, pair => pair.Value.ToArray(), StringComparer.Ordinal);
        var detail = errors.Count == 1
            ? errors.First().Value[0]
            : $"{errors.Count} fields are invalid: {string.Join(", ", errors.Keys)}.";
        throw new ProblemException(ProblemType.Validation, detail, errors);
    }

    private string? StringValue(string field, JsonElement element, int lengthMax)
    {
        if (element.ValueKind != JsonValueKind.String)
        {
            Fail(field, $"{field} must be a JSON string.");
            return null;
        }
        var value = element.GetString()!.Trim();
        if (value.Any(char.IsControl))
        {
            Fail(field, $"{field} must not contain control characters.");
            return null;
        }
        if (value.Length > lengthMax)
        {
            Fail(field, $"{field} must be at most {lengthMax} characters long.");
            return null;
        }
        return value;
    }

    private static string TooLarge(string field) => string.Create(CultureInfo.InvariantCulture,
        $"{field} must be at most {EdgeLimits.AmountMaxMinor} minor units ({MajorUnits(EdgeLimits.AmountMaxMinor)}).");

    /// <summary>1000000000 minor units as "10,000,000.00", for people.</summary>
    private static string MajorUnits(long minor) => (minor / 100m).ToString("#,0.00", CultureInfo.InvariantCulture);

    private static string Shorten(string text) => text.Length <= 32 ? text : text[..32] + "…";
}
