namespace Bulwark.CardNetwork.Traffic;

/// <summary>
/// A card acceptor: where an authorisation comes from. Amounts are drawn from a log-normal
/// distribution around <see cref="MedianAmountMinor"/>, which is what small everyday card
/// payments look like: most near the median, a long tail of larger ones.
/// </summary>
/// <param name="Name">Trading name, up to 22 characters on the wire.</param>
/// <param name="City">City, up to 13 characters on the wire.</param>
/// <param name="CountryCode">ISO 3166 alpha-3, e.g. GBR.</param>
/// <param name="CategoryCode">MCC, field 18, four digits.</param>
/// <param name="TerminalId">Field 41, eight characters.</param>
/// <param name="CardAcceptorId">Field 42, fifteen characters.</param>
/// <param name="MedianAmountMinor">Median amount in pence.</param>
/// <param name="AmountSpread">Standard deviation of the amount's logarithm (0.3 narrow, 1.0 wide).</param>
/// <param name="EcommerceShare">Share of payments that are card-not-present (e-commerce), 0-1.</param>
/// <param name="Tips">Whether presentments may add a tip to the authorised amount (restaurants, taxis).</param>
/// <param name="SettlementCurrency">ISO 4217 numeric currency the merchant is paid in; not 826 means a currency conversion at clearing.</param>
public sealed record SchemeMerchant(
    string Name,
    string City,
    string CountryCode,
    string CategoryCode,
    string TerminalId,
    string CardAcceptorId,
    long MedianAmountMinor,
    double AmountSpread,
    double EcommerceShare,
    bool Tips,
    string SettlementCurrency)
{
    /// <summary>Field 43: name (22), space, city (13), space, country (3) — 40 characters.</summary>
    public string NameLocation => $"{Fit(Name, 22)} {Fit(City, 13)} {Fit(CountryCode, 3)}";

    private static string Fit(string text, int width) => text.Length >= width ? text[..width] : text.PadRight(width);
}
