using Bulwark.Edge.Problems;
using Microsoft.AspNetCore.Http;

namespace Bulwark.Edge.Api;

/// <summary>
/// The <c>Idempotency-Key</c> header of requests that move money: 32 hexadecimal digits chosen by
/// the client, reused when it retries, passed on to the accounts service as the movement's key.
/// </summary>
internal static class IdempotencyKey
{
    public const string HeaderName = "Idempotency-Key";
    public const int HexDigits = 32;

    /// <summary>The key in lower case, or a 400 problem naming the header.</summary>
    public static string Read(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var values = request.Headers[HeaderName];
        if (values.Count == 0 || string.IsNullOrWhiteSpace(values[0]))
        {
            throw Invalid($"The {HeaderName} header is required: {HexDigits} hexadecimal digits chosen by the client and reused when it retries.");
        }
        if (values.Count > 1)
        {
            throw Invalid($"Send the {HeaderName} header once.");
        }
        var key = values[0]!.Trim();
        if (key.Length != HexDigits || !key.All(char.IsAsciiHexDigit))
        {
            throw Invalid($"The {HeaderName} header must be exactly {HexDigits} hexadecimal digits.");
        }
        if (key.All(digit => digit == '0'))
        {
            throw Invalid($"The {HeaderName} header must not be all zeros.");
        }
        return key.ToLowerInvariant();
    }

    private static ProblemException Invalid(string message) => ProblemException.Field(ProblemType.IdempotencyKey, HeaderName, message);
}
