using System.Globalization;
using System.Security.Cryptography;

namespace Bulwark.Accounts.Tests;

/// <summary>Random Luhn-valid card numbers, so tests sharing a host never collide.</summary>
public static class TestPans
{
    public static string New(int length = 16)
    {
        var body = "4" + string.Concat(Enumerable.Range(0, length - 2).Select(_ => RandomNumberGenerator.GetInt32(10).ToString(CultureInfo.InvariantCulture)));
        return body + CheckDigit(body);
    }

    public static char CheckDigit(string body)
    {
        var sum = 0;
        var doubleIt = true;
        for (var i = body.Length - 1; i >= 0; i--)
        {
            var digit = body[i] - '0';
            if (doubleIt)
            {
                digit *= 2;
                if (digit > 9)
                {
                    digit -= 9;
                }
            }
            sum += digit;
            doubleIt = !doubleIt;
        }
        return (char)('0' + ((10 - (sum % 10)) % 10));
    }

    /// <summary>The same number with its last digit changed, so the Luhn check fails.</summary>
    public static string WithWrongCheckDigit(string pan) => pan[..^1] + (char)('0' + ((pan[^1] - '0' + 1) % 10));
}
