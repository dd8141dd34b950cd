using System.Globalization;
using System.Net;
using System.Text.Json;
using Bulwark.Support.Protos;

namespace Bulwark.Support.Validation;

/// <summary>
/// Checks and normalises request fields. Each method throws INVALID_ARGUMENT naming the field, or
/// returns the value in its one canonical spelling.
/// </summary>
internal static class RequestFields
{
    /// <summary>The audit actor of a change made from the bank's own command line (no staff identity yet).</summary>
    public const string OperatorActor = "operator";

    /// <summary>The audit actor of what the service does by itself (a lock after failed logins).</summary>
    public const string SystemActor = "system";

    public static string Id(string value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw SupportErrors.Invalid(field, "is required");
        }
        if (value.Length != 36 || !Guid.TryParseExact(value, "D", out var id))
        {
            throw SupportErrors.Invalid(field, "must be a UUID such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        }
        return id.ToString("D");
    }

    public static string Text(string value, string field, int lengthMax, bool required)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0 && required)
        {
            throw SupportErrors.Invalid(field, "is required");
        }
        if (trimmed.Length > lengthMax)
        {
            throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be at most {lengthMax} characters"));
        }
        if (trimmed.Any(char.IsControl))
        {
            throw SupportErrors.Invalid(field, "must not contain control characters");
        }
        return trimmed;
    }

    /// <summary>Returns the email as given (trimmed) and its normalised form for uniqueness.</summary>
    public static (string Email, string Normalised) Email(string value, string field)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0)
        {
            throw SupportErrors.Invalid(field, "is required");
        }
        if (trimmed.Length > SupportLimits.EmailLengthMax)
        {
            throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be at most {SupportLimits.EmailLengthMax} characters"));
        }
        var at = trimmed.IndexOf('@', StringComparison.Ordinal);
        var labels = at > 0 ? trimmed[(at + 1)..].Split('.') : [];
        if (at <= 0 || at > 64 || at != trimmed.LastIndexOf('@') || labels.Length < 2 || labels.Any(label => label.Length == 0)
            || trimmed.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '<' or '>' or ',' or ';'))
        {
            throw SupportErrors.Invalid(field, "must look like name@example.com");
        }
        return (trimmed, trimmed.ToLowerInvariant());
    }

    public static string Password(string value, string field)
    {
        if (value.Length == 0)
        {
            throw SupportErrors.Invalid(field, "is required");
        }
        if (value.Length is < SupportLimits.PasswordLengthMin or > SupportLimits.PasswordLengthMax)
        {
            throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture,
                $"must be {SupportLimits.PasswordLengthMin} to {SupportLimits.PasswordLengthMax} characters"));
        }
        return value;
    }

    /// <summary>The roles' names, each once, in a fixed order; at least one.</summary>
    public static IReadOnlyList<string> Roles(IEnumerable<StaffRole> roles, string field)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var role in roles)
        {
            names.Add(RoleName(role) ?? throw SupportErrors.Invalid(field, "must be support, operations or admin"));
        }
        if (names.Count == 0)
        {
            throw SupportErrors.Invalid(field, "must name at least one role: support, operations or admin");
        }
        return [.. names];
    }

    public static string? RoleName(StaffRole role) => role switch
    {
        StaffRole.Support => "support",
        StaffRole.Operations => "operations",
        StaffRole.Admin => "admin",
        _ => null,
    };

    public static StaffRole RoleOf(string name) => name switch
    {
        "support" => StaffRole.Support,
        "operations" => StaffRole.Operations,
        "admin" => StaffRole.Admin,
        _ => StaffRole.Unspecified,
    };

    /// <summary>Exactly <see cref="SupportLimits.TotpDigits"/> digits.</summary>
    public static string TotpCode(string value, string field)
    {
        if (value.Length == 0)
        {
            throw SupportErrors.Invalid(field, "is required: the code the authenticator app shows");
        }
        if (value.Length != SupportLimits.TotpDigits || !value.All(char.IsAsciiDigit))
        {
            throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be {SupportLimits.TotpDigits} digits"));
        }
        return value;
    }

    /// <summary>An IP address in its canonical spelling, or empty.</summary>
    public static string SourceAddress(string value, string field)
    {
        if (value.Length == 0)
        {
            return "";
        }
        if (value.Length > SupportLimits.SourceAddressLengthMax || !IPAddress.TryParse(value, out var address))
        {
            throw SupportErrors.Invalid(field, "must be an IP address such as 10.0.0.7 or 2001:db8::7");
        }
        return address.ToString();
    }

    /// <summary>Lower-case words of letters, digits and '_' joined by dots: "customer.viewed".</summary>
    public static string Action(string value, string field)
    {
        if (value.Length == 0)
        {
            throw SupportErrors.Invalid(field, "is required");
        }
        if (value.Length > SupportLimits.ActionLengthMax || value.Split('.').Any(word => word.Length == 0 || !word.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_')))
        {
            throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture,
                $"must be at most {SupportLimits.ActionLengthMax} characters of lower-case words joined by dots, such as customer.viewed"));
        }
        return value;
    }

    /// <summary>A JSON object (empty means {}), re-serialised compactly so that its hash does not depend on spacing.</summary>
    public static string DetailsJson(string value, string field)
    {
        if (value.Length == 0)
        {
            return "{}";
        }
        if (System.Text.Encoding.UTF8.GetByteCount(value) > SupportLimits.DetailsJsonBytesMax)
        {
            throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be at most {SupportLimits.DetailsJsonBytesMax} bytes"));
        }
        try
        {
            using var document = JsonDocument.Parse(value, new JsonDocumentOptions { MaxDepth = 16 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw SupportErrors.Invalid(field, "must be a JSON object");
            }
            return JsonSerializer.Serialize(document.RootElement);
        }
        catch (JsonException)
        {
            throw SupportErrors.Invalid(field, "must be a JSON object");
        }
    }
}
