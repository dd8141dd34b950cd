using System.Globalization;
using System.Text;

namespace Bulwark.Config.Validation;

/// <summary>
/// The contract's rules for keys, prefixes, values and reasons (config.proto), checked before
/// anything is read or written; each failure names its field.
/// </summary>
public static class ConfigFields
{
    /// <summary>Null when <paramref name="key"/> is a valid key, else what is wrong with it (a phrase after the field's name).</summary>
    public static string? KeyProblem(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0)
        {
            return "is required: 1 to 200 characters of a-z, 0-9, '.', '_', '-' and '/'.";
        }
        if (key.Length > ConfigLimits.KeyLengthMax)
        {
            return string.Create(CultureInfo.InvariantCulture, $"is {key.Length} characters long; at most {ConfigLimits.KeyLengthMax} are allowed.");
        }
        if (CharacterProblem(key) is { } bad)
        {
            return bad;
        }
        if (!char.IsAsciiLetterLower(key[0]) && !char.IsAsciiDigit(key[0]))
        {
            return $"must start with a letter or digit, not '{key[0]}'.";
        }
        if (key.Contains("//", StringComparison.Ordinal))
        {
            return "must not have an empty path segment ('//').";
        }
        return key.EndsWith('/') ? "must not end with '/'." : null;
    }

    /// <summary>Null when <paramref name="prefix"/> is empty or made of key characters and no longer than a key.</summary>
    public static string? PrefixProblem(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length > ConfigLimits.KeyLengthMax)
        {
            return string.Create(CultureInfo.InvariantCulture, $"is {prefix.Length} characters long; at most {ConfigLimits.KeyLengthMax} are allowed.");
        }
        return CharacterProblem(prefix);
    }

    /// <summary>The size of a value in UTF-8 bytes, which <see cref="ConfigLimits.ValueBytesMax"/> bounds.</summary>
    public static int ValueBytes(string value) => Encoding.UTF8.GetByteCount(value);

    /// <summary>Null when <paramref name="reason"/> is 1 to 500 characters with something besides white space.</summary>
    public static string? ReasonProblem(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        if (string.IsNullOrWhiteSpace(reason))
        {
            return "is required: say why (1 to 500 characters); it is kept in the key's history.";
        }
        return reason.Length > ConfigLimits.ReasonLengthMax
            ? string.Create(CultureInfo.InvariantCulture, $"is {reason.Length} characters long; at most {ConfigLimits.ReasonLengthMax} are allowed.")
            : null;
    }

    private static string? CharacterProblem(string text)
    {
        foreach (var character in text)
        {
            if (!IsKeyCharacter(character))
            {
                return char.IsControl(character) || char.IsWhiteSpace(character)
                    ? string.Create(CultureInfo.InvariantCulture, $"holds the character U+{(int)character:X4}; only a-z, 0-9, '.', '_', '-' and '/' are allowed.")
                    : $"holds '{character}'; only a-z, 0-9, '.', '_', '-' and '/' are allowed.";
            }
        }
        return null;
    }

    private static bool IsKeyCharacter(char character) =>
        char.IsAsciiLetterLower(character) || char.IsAsciiDigit(character) || character is '.' or '_' or '-' or '/';
}
