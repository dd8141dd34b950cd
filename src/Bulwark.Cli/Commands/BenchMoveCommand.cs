using System.CommandLine;
using System.Globalization;
using Bulwark.Bench;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark bench move</c>: a partition of N transfers moved between two cells under background
/// payments, with the real mover (docs/guides/benchmarks.md). Exit 1 when money was not conserved
/// or a call failed; the pause goal is reported, not enforced (a loaded machine stretches it).
/// </summary>
internal static class BenchMoveCommand
{
    public static Command Create()
    {
        var defaults = new MoveBenchmarkOptions();
        var transfers = CommonOptions.PositiveInt("--transfers", "Transfers the moving partition holds before the move.", defaults.Transfers, 10_000_000);
        var accounts = CommonOptions.PositiveInt("--partition-accounts", "Accounts in the moving partition (at least 2).", defaults.PartitionAccounts, 100_000);
        var rate = CommonOptions.PositiveInt("--rate", "Background payments per second during the move (a quarter inside the moving partition, a quarter between it and elsewhere).", (int)defaults.Rate, 100_000);
        var workers = CommonOptions.PositiveInt("--workers", "Background workers, each one call at a time.", defaults.Workers, 256);
        var settle = CommonOptions.Duration("--settle", "Background load before the move starts and after it ends, e.g. 2s.");
        var seed = new Option<int>("--seed") { Description = "Seed for ids, accounts and amounts.", DefaultValueFactory = _ => defaults.Seed };
        var data = new Option<DirectoryInfo?>("--data") { Description = "Directory in which the run makes its own directory for the map and the cells' files, kept afterwards (default: a temporary one, deleted)." };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Write the results as JSON and markdown into this directory." };
        var name = new Option<string?>("--name") { Description = "File name (without extension) for --out. Default: move-sqlite-YYYY-MM-DD." };
        var command = new Command("move", "Moves a partition of --transfers transfers from one cell to another with the real mover while background payments run; reports move, copy and pause times, failed calls and refusals, and checks the money.")
        {
            transfers, accounts, rate, workers, settle, seed, data, output, name,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(accounts) < 2)
            {
                Console.Error.WriteLine("bulwark bench move: --partition-accounts must be at least 2.");
                return 2;
            }
            var options = defaults with
            {
                Transfers = parse.GetValue(transfers),
                PartitionAccounts = parse.GetValue(accounts),
                Rate = parse.GetValue(rate),
                Workers = parse.GetValue(workers),
                Settle = parse.GetValue(settle) ?? defaults.Settle,
                Seed = parse.GetValue(seed),
                DataDirectory = parse.GetValue(data)?.FullName,
            };
            return await RunAsync(options, "bulwark " + string.Join(' ', parse.Tokens.Select(t => t.Value)), parse.GetValue(output), parse.GetValue(name), Console.Out, cancellationToken);
        });
        return command;
    }

    internal static async Task<int> RunAsync(MoveBenchmarkOptions options, string commandLine, DirectoryInfo? output, string? name, TextWriter console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(console);
        var result = await MoveBenchmark.RunAsync(options, console, cancellationToken);
        var notes = $"Command: `{commandLine}`\n\nMachine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, shared with other work (load averages above).";
        console.WriteLine();
        console.Write(MoveBenchmarkReport.ToMarkdown(result, notes));
        if (output is not null)
        {
            var fileName = name ?? string.Create(CultureInfo.InvariantCulture, $"move-sqlite-{result.StartedAt:yyyy-MM-dd}");
            var (json, markdown) = MoveBenchmarkReport.Write(output.FullName, fileName, result, notes);
            console.WriteLine($"wrote {json} and {markdown}");
        }
        if (!result.MoneyConserved || result.FailedCalls > 0)
        {
            console.WriteLine("bulwark bench move: money was not conserved or a call failed (see above): the benchmark failed.");
            return 1;
        }
        return 0;
    }
}
