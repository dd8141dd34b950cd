using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bulwark.Cli.Demo;

/// <summary>One seeded customer, as the workload needs to find them again after a restart.</summary>
public sealed record DemoCustomer(
    string CustomerId,
    string Name,
    string Email,
    string AccountId,
    string LedgerAccountId,
    string SortCode,
    string AccountNumber,
    string PotId,
    string PotLedgerAccountId);

/// <summary>The seeded population, written to the data directory once seeding has finished.</summary>
public sealed record DemoPopulation(int Seed, IReadOnlyList<DemoCustomer> Customers)
{
    /// <summary>The year the demo cards expire (December); 0 in files written before it was recorded.</summary>
    public int CardExpiryYear { get; init; }

    /// <summary>How many times a bank has started on this population after the start that seeded it.</summary>
    public int Starts { get; init; }

    /// <summary>
    /// The seed of this start's workload and card traffic: the --seed mixed with the start number,
    /// so that a restart continues with a new sequence instead of replaying the first start's
    /// payments (which would look like duplicates in the feed), and the same data directory with the
    /// same --seed still gives the same runs in the same order.
    /// </summary>
    public int TrafficSeed(int seed) => unchecked((seed * 1_000_003) + Starts);

    /// <summary>Counts one more start in the file and returns the population as this start sees it.</summary>
    public DemoPopulation RecordStart(string path)
    {
        var started = this with { Starts = Starts + 1 };
        started.Save(path);
        return started;
    }

    public static DemoPopulation? TryLoad(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        var population = JsonSerializer.Deserialize(File.ReadAllText(path), DemoJsonContext.Default.DemoPopulation);
        return population is { Customers.Count: > 0 } ? population : null;
    }

    public void Save(string path)
    {
        // Written to a temporary file and renamed, so a crash never leaves half a file behind.
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, DemoJsonContext.Default.DemoPopulation));
        File.Move(temporary, path, overwrite: true);
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(DemoPopulation))]
internal sealed partial class DemoJsonContext : JsonSerializerContext;
