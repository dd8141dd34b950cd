namespace Bulwark.Cli.Demo;

/// <summary>A card acceptor as the feed shows it.</summary>
public sealed record Merchant(string Name, string Category, string Mcc, long TypicalAmountMinor);

/// <summary>UK merchants with their merchant category codes, for demo history.</summary>
public static class Merchants
{
    public static readonly IReadOnlyList<Merchant> All =
    [
        new("Tesco Express", "groceries", "5411", 1_250),
        new("Sainsbury's", "groceries", "5411", 3_480),
        new("Waitrose", "groceries", "5411", 4_120),
        new("Pret A Manger", "eating_out", "5812", 695),
        new("Costa Coffee", "eating_out", "5814", 385),
        new("Dishoom", "eating_out", "5812", 4_650),
        new("Deliveroo", "eating_out", "5812", 2_340),
        new("Transport for London", "transport", "4111", 280),
        new("Uber", "transport", "4121", 1_420),
        new("Trainline", "transport", "4112", 5_600),
        new("Amazon", "shopping", "5942", 2_199),
        new("Boots", "shopping", "5912", 845),
        new("John Lewis", "shopping", "5311", 7_900),
        new("Odeon Cinemas", "entertainment", "7832", 1_190),
        new("Spotify", "entertainment", "5815", 1_199),
        new("Thames Water", "bills", "4900", 3_850),
        new("Octopus Energy", "bills", "4900", 9_200),
    ];
}
