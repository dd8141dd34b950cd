using System.Globalization;

namespace Bulwark.CardNetwork.Traffic;

/// <summary>
/// A seeded population of card acceptors — UK chains and independents in UK cities, plus a few
/// foreign online merchants — with a skewed popularity: a few merchants take most payments,
/// like real card traffic.
/// </summary>
public sealed class MerchantPopulation
{
    private static readonly (string Name, string Mcc, long Median, double Spread, double Ecommerce, bool Tips, bool Online, string Country, string Currency)[] Templates =
    [
        ("Tesco Express", "5411", 1_250, 0.6, 0.0, false, false, "GBR", "826"),
        ("Sainsbury's", "5411", 3_480, 0.7, 0.1, false, false, "GBR", "826"),
        ("Co-op Food", "5411", 980, 0.6, 0.0, false, false, "GBR", "826"),
        ("Waitrose", "5411", 4_120, 0.7, 0.1, false, false, "GBR", "826"),
        ("Greggs", "5814", 425, 0.4, 0.0, false, false, "GBR", "826"),
        ("Pret A Manger", "5812", 695, 0.4, 0.0, false, false, "GBR", "826"),
        ("Costa Coffee", "5814", 385, 0.3, 0.0, false, false, "GBR", "826"),
        ("Dishoom", "5812", 4_650, 0.5, 0.0, true, false, "GBR", "826"),
        ("The Red Lion", "5813", 1_480, 0.6, 0.0, true, false, "GBR", "826"),
        ("Wagamama", "5812", 2_890, 0.5, 0.0, true, false, "GBR", "826"),
        ("Boots", "5912", 845, 0.7, 0.1, false, false, "GBR", "826"),
        ("Superdrug", "5912", 760, 0.6, 0.1, false, false, "GBR", "826"),
        ("WHSmith", "5994", 650, 0.6, 0.0, false, false, "GBR", "826"),
        ("John Lewis", "5311", 7_900, 0.9, 0.4, false, false, "GBR", "826"),
        ("Marks & Spencer", "5311", 2_400, 0.8, 0.2, false, false, "GBR", "826"),
        ("Shell", "5541", 5_200, 0.4, 0.0, false, false, "GBR", "826"),
        ("Black Cab", "4121", 1_850, 0.5, 0.0, true, false, "GBR", "826"),
        ("Odeon Cinemas", "7832", 1_190, 0.4, 0.5, false, false, "GBR", "826"),
        ("Transport for London", "4111", 280, 0.3, 0.0, false, true, "GBR", "826"),
        ("Uber", "4121", 1_420, 0.6, 1.0, true, true, "GBR", "826"),
        ("Deliveroo", "5812", 2_340, 0.5, 1.0, true, true, "GBR", "826"),
        ("Amazon UK", "5942", 2_199, 0.9, 1.0, false, true, "GBR", "826"),
        ("Trainline", "4112", 5_600, 0.7, 1.0, false, true, "GBR", "826"),
        ("Spotify", "5815", 1_199, 0.1, 1.0, false, true, "SWE", "752"),
        ("Booking.com", "7011", 18_500, 0.7, 1.0, false, true, "NLD", "978"),
        ("Ryanair", "4511", 7_450, 0.6, 1.0, false, true, "IRL", "978"),
    ];

    private static readonly string[] Cities =
    [
        "London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Edinburgh", "Bristol", "Cardiff",
        "Liverpool", "Newcastle", "Sheffield", "Nottingham", "Brighton", "Belfast", "Oxford", "Cambridge",
    ];

    private readonly double[] _cumulativeWeights;

    private MerchantPopulation(IReadOnlyList<SchemeMerchant> merchants)
    {
        Merchants = merchants;

        // Zipf-like popularity: the merchant at rank r gets weight 1 / (r + 1)^0.8.
        _cumulativeWeights = new double[merchants.Count];
        var total = 0.0;
        for (var rank = 0; rank < merchants.Count; rank++)
        {
            total += 1.0 / Math.Pow(rank + 1, 0.8);
            _cumulativeWeights[rank] = total;
        }
    }

    /// <summary>The merchants, most popular first.</summary>
    public IReadOnlyList<SchemeMerchant> Merchants { get; }

    /// <summary>A population of <paramref name="count"/> merchants, the same for the same seed.</summary>
    public static MerchantPopulation Create(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, 100_000);
        var random = new Random(seed);
        var merchants = new List<SchemeMerchant>(count);
        for (var index = 0; index < count; index++)
        {
            var template = Templates[index < Templates.Length ? index : random.Next(Templates.Length)];
            var city = template.Online ? OnlineCity(template.Country) : Cities[random.Next(Cities.Length)];
            merchants.Add(new SchemeMerchant(
                template.Name,
                city,
                template.Country,
                template.Mcc,
                string.Create(CultureInfo.InvariantCulture, $"T{index + 1:D7}"),
                string.Create(CultureInfo.InvariantCulture, $"BWM{random.NextInt64(0, 1_000_000_000_000):D12}"),
                template.Median,
                template.Spread,
                template.Ecommerce,
                template.Tips,
                template.Currency));
        }

        return new MerchantPopulation(merchants);
    }

    /// <summary>Picks a merchant by popularity.</summary>
    public int Pick(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var target = random.NextDouble() * _cumulativeWeights[^1];
        var index = Array.BinarySearch(_cumulativeWeights, target);
        return Math.Min(index < 0 ? ~index : index, _cumulativeWeights.Length - 1);
    }

    /// <summary>An amount in pence drawn around the merchant's median; between 1 and 250,000 (GBP 2,500).</summary>
    public static long DrawAmount(SchemeMerchant merchant, Random random)
    {
        ArgumentNullException.ThrowIfNull(merchant);
        ArgumentNullException.ThrowIfNull(random);

        // Box-Muller: a standard normal from two uniforms, then exp(mu + sigma * z).
        var normal = Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());
        var amount = Math.Exp(Math.Log(merchant.MedianAmountMinor) + (merchant.AmountSpread * normal));
        return Math.Clamp((long)Math.Round(amount), 1, 250_000);
    }

    private static string OnlineCity(string country) => country switch
    {
        "NLD" => "Amsterdam",
        "IRL" => "Dublin",
        "SWE" => "Stockholm",
        _ => "London",
    };
}
