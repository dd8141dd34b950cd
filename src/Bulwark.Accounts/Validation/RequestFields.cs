using System.Globalization;
using Bulwark.Accounts.Security;

namespace Bulwark.Accounts.Validation;

/// <summary>
/// Checks and normalises request fields. Each method throws INVALID_ARGUMENT naming the field, or
/// returns the value in its one canonical spelling (trimmed, lower-case ids and keys).
/// </summary>
internal static class RequestFields
{
    public static string Id(string value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw AccountsErrors.Invalid(field, "is required");
        }
        if (value.Length != 36 || !Guid.TryParseExact(value, "D", out var id))
        {
            throw AccountsErrors.Invalid(field, "must be a UUID such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        }
        return id.ToString("D");
    }

    public static string Name(string value, string field, int lengthMax)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0)
        {
            throw AccountsErrors.Invalid(field, "is required");
        }
        if (trimmed.Length > lengthMax)
        {
            throw AccountsErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be at most {lengthMax} characters"));
        }
        if (trimmed.Any(char.IsControl))
        {
            throw AccountsErrors.Invalid(field, "must not contain control characters");
        }
        return trimmed;
    }

    /// <summary>Returns the email as given (trimmed) and its normalised form for uniqueness.</summary>
    public static (string Email, string Normalised) Email(string value, string field)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0)
        {
            throw AccountsErrors.Invalid(field, "is required");
        }
        if (trimmed.Length > AccountsLimits.EmailLengthMax)
        {
            throw AccountsErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be at most {AccountsLimits.EmailLengthMax} characters"));
        }
        if (!LooksLikeEmail(trimmed))
        {
            throw AccountsErrors.Invalid(field, "must look like name@example.com");
        }
        return (trimmed, trimmed.ToLowerInvariant());
    }

    /// <summary>
    /// The shape of an address (local@domain.tld), not its deliverability: only sending a message
    /// proves that, and the full RFC 5322 grammar accepts addresses no bank wants on file.
    /// </summary>
    private static bool LooksLikeEmail(string value)
    {
        var at = value.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at > 64 || at != value.LastIndexOf('@') || value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '<' or '>' or ',' or ';'))
        {
            return false;
        }
        var labels = value[(at + 1)..].Split('.');
        return labels.Length >= 2 && labels.All(label => label.Length > 0) && !value.Contains("..", StringComparison.Ordinal);
    }

    /// <summary>Empty means "no password" when <paramref name="optional"/>.</summary>
    public static string Password(string value, string field, bool optional)
    {
        if (value.Length == 0)
        {
            return optional ? "" : throw AccountsErrors.Invalid(field, "is required");
        }
        if (value.Length is < AccountsLimits.PasswordLengthMin or > AccountsLimits.PasswordLengthMax)
        {
            throw AccountsErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture,
                $"must be {AccountsLimits.PasswordLengthMin} to {AccountsLimits.PasswordLengthMax} characters"));
        }
        return value;
    }

    public static string Currency(string value, string field, string? defaultCurrency = null)
    {
        if (value.Length == 0)
        {
            return defaultCurrency ?? throw AccountsErrors.Invalid(field, "is required");
        }
        if (value.Length != 3 || !value.All(char.IsAsciiLetterUpper))
        {
            throw AccountsErrors.Invalid(field, "must be an ISO 4217 code of three capital letters, such as GBP");
        }
        if (!Iso4217.IsKnown(value))
        {
            throw AccountsErrors.Invalid(field, $"'{value}' is not an ISO 4217 currency");
        }
        return value;
    }

    public static long Amount(long value, string field, long max, bool zeroAllowed)
    {
        if (value < 0 || (value == 0 && !zeroAllowed))
        {
            throw AccountsErrors.Invalid(field, zeroAllowed ? "must not be negative" : "must be greater than zero");
        }
        if (value > max)
        {
            throw AccountsErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be at most {max} minor units"));
        }
        return value;
    }

    public static string Digits(string value, string field, int length, string example)
    {
        if (value.Length == 0)
        {
            throw AccountsErrors.Invalid(field, "is required");
        }
        if (value.Length != length || !value.All(char.IsAsciiDigit))
        {
            throw AccountsErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be {length} digits without spaces or dashes, such as {example}"));
        }
        return value;
    }

    /// <summary>An idempotency key: 32 hex digits, not all zero, returned in lower case.</summary>
    public static UInt128 IdempotencyKey(string value, string field)
    {
        if (value.Length == 0)
        {
            throw AccountsErrors.Invalid(field, "is required: 32 hex digits chosen by the client, the same on every retry");
        }
        if (value.Length != 32 || !value.All(char.IsAsciiHexDigit)
            || !UInt128.TryParse(value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var key))
        {
            throw AccountsErrors.Invalid(field, "must be 32 hex digits");
        }
        if (key == UInt128.Zero)
        {
            throw AccountsErrors.Invalid(field, "must not be zero");
        }
        return key;
    }

    public static string Pan(string value, string field)
    {
        if (value.Length == 0)
        {
            throw AccountsErrors.Invalid(field, "is required");
        }
        if (value.Length is < AccountsLimits.PanLengthMin or > AccountsLimits.PanLengthMax || !value.All(char.IsAsciiDigit))
        {
            throw AccountsErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture,
                $"must be {AccountsLimits.PanLengthMin} to {AccountsLimits.PanLengthMax} digits without spaces"));
        }
        if (!Luhn.IsValid(value))
        {
            throw AccountsErrors.Invalid(field, "fails the Luhn check: a digit is wrong");
        }
        return value;
    }

    public static string Reference(string value, string field)
    {
        var trimmed = value.Trim();
        if (trimmed.Length > AccountsLimits.ReferenceLengthMax)
        {
            throw AccountsErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be at most {AccountsLimits.ReferenceLengthMax} characters"));
        }
        if (trimmed.Any(char.IsControl))
        {
            throw AccountsErrors.Invalid(field, "must not contain control characters");
        }
        return trimmed;
    }
}
