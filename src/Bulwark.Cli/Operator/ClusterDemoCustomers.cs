using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Bulwark.Accounts.Protos;
using Bulwark.Cli.Demo;
using Bulwark.Lab.Cluster;
using Grpc.Core;

namespace Bulwark.Cli.Operator;

/// <summary>
/// <c>bulwark cluster up --customers N</c>: once every instance is healthy, seeds N demo customers
/// through the services' contracts, as <c>bulwark run</c> does on its first start, and prints the
/// demo login. A cluster whose accounts already hold customers (data is kept across down and up)
/// is not seeded again.
/// </summary>
internal static class ClusterDemoCustomers
{
    /// <summary>0 (none): an empty cluster starts fastest and the tests that start clusters stay quick.</summary>
    public const int CustomersDefault = 0;

    public const int CustomersMax = 100_000;

    /// <summary>The seed of the demo data: the same as <c>bulwark run</c>'s default, so the same demo cards.</summary>
    public const int Seed = 42;

    public static Option<int> CreateOption() => new("--customers")
    {
        Description = $"Demo customers to seed through the services once the cluster is healthy (0-{CustomersMax:N0}; default {CustomersDefault}, none). Skipped when the cluster's accounts already hold customers.",
        DefaultValueFactory = _ => CustomersDefault,
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= CustomersMax)
            {
                return value;
            }
            result.AddError($"--customers must be a whole number from 0 to {CustomersMax:N0}, not '{text}'.");
            return CustomersDefault;
        },
    };

    /// <summary>Seeds the running cluster in <paramref name="stateDirectory"/>: 0 when done or skipped, 1 when seeding failed (the cluster stays up).</summary>
    public static async Task<int> SeedAsync(string stateDirectory, int customers, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        try
        {
            // Bootstrapping on the machine that holds the cluster's state: straight to the services (docs/guides/operator-cli.md).
            await using var bank = await BankConnection.ConnectAsync(new BankTarget(null, stateDirectory, null) { Direct = true }, cancellationToken);
            var existing = await bank.Accounts.ListCustomersAsync(new ListCustomersRequest { Limit = 1 }, cancellationToken: cancellationToken);
            if (existing.Customers.Count > 0)
            {
                await output.WriteLineAsync($"customers: the cluster's accounts already hold customers (its data is kept across down and up): not seeding. Demo login, when it was seeded: {DemoSeeder.DemoEmail} / {DemoSeeder.DemoPassword}");
                return 0;
            }
            await output.WriteLineAsync($"seeding {customers:N0} demo customers through the services...");
            var watch = Stopwatch.StartNew();
            var population = await new DemoSeeder(bank.Accounts, bank.Ledger, output).SeedAsync(customers, Seed, cancellationToken);
            // The scheme knows the cards it issued (full numbers stay on the scheme's side, outside the bank's data).
            Directory.CreateDirectory(SchemeState.DirectoryIn(stateDirectory));
            population.Save(SchemeState.PopulationPath(stateDirectory));
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Seeded in {watch.Elapsed.TotalSeconds:0.0} s."));
            await output.WriteLineAsync($"Demo login: {DemoSeeder.DemoEmail} / {DemoSeeder.DemoPassword}   ({population.Customers.Count:N0} customers)");
            return 0;
        }
        catch (Exception error) when (error is OperatorException or InvalidOperationException || (error is RpcException rpc && rpc.StatusCode != StatusCode.Cancelled))
        {
            await Console.Error.WriteLineAsync($"bulwark cluster up: the cluster is up, but seeding demo customers failed: {error.Message}");
            return 1;
        }
    }
}
