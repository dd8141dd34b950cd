using System.Globalization;

namespace Bulwark.CardNetwork.Traffic;

/// <summary>A card the scheme carries: its PAN and expiry, as the cardholder's bank issued them.</summary>
/// <param name="PrimaryAccountNumber">12-19 digits.</param>
/// <param name="ExpiryYear">Four-digit year, e.g. 2029.</param>
/// <param name="ExpiryMonth">1-12.</param>
public sealed record SchemeCard(string PrimaryAccountNumber, int ExpiryYear, int ExpiryMonth)
{
    /// <summary>Field 14, YYMM.</summary>
    public string ExpiryYearMonth => string.Create(CultureInfo.InvariantCulture, $"{ExpiryYear % 100:D2}{ExpiryMonth:D2}");

    /// <summary>The last four digits, the only part of the PAN that goes into logs and reports.</summary>
    public string LastFour => PrimaryAccountNumber[^4..];

    /// <summary>Whether the card has expired by <paramref name="utcNow"/> (it is valid through its expiry month).</summary>
    public bool IsExpired(DateTimeOffset utcNow) => (utcNow.Year * 12) + utcNow.Month > (ExpiryYear * 12) + ExpiryMonth;

    /// <summary>Throws <see cref="ArgumentException"/> when the PAN or expiry cannot go on the wire.</summary>
    public void Validate()
    {
        if (PrimaryAccountNumber is null || PrimaryAccountNumber.Length is < 12 or > 19 || !PrimaryAccountNumber.All(char.IsAsciiDigit))
        {
            throw new ArgumentException("A card's PAN must be 12-19 digits.");
        }

        if (ExpiryMonth is < 1 or > 12 || ExpiryYear is < 2000 or > 2099)
        {
            throw new ArgumentException($"Card ending {LastFour}: expiry {ExpiryYear}-{ExpiryMonth} is not a month of 2000-2099.");
        }
    }
}
