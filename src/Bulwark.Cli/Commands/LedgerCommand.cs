using System.CommandLine;
using System.Globalization;
using System.Text;
using Bulwark.Cli.Cluster;
using Bulwark.Cli.Hosting;
using Bulwark.Ledger;
using Bulwark.Ledger.Cells;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark ledger check</c>: verifies the ledger's invariants from outside the bank.</summary>
internal static class LedgerCommand
{
    public static Command Create()
    {
        var data = CommonOptions.Data();
        var store = CommonOptions.PostgresStore("Check the ledger in PostgreSQL instead: postgres://user[:password]@host[:port]/database.");
        var state = new Option<DirectoryInfo?>("--state")
        {
            Description = "Check a local cluster's ledger (bulwark cluster up, running or down): every cell of its placement map (kept in STATE/placement.json, read again from etcd while the cluster runs), on SQLite under STATE/data/ledger or on the cluster's PostgreSQL (--store gives the URL once the cluster is down).",
        };
        var check = new Command("check", "Verify every ledger invariant (sum zero, balances equal their transfers, holds intact) in every cell, and the credit legs between cells. Exit 1 if anything is wrong.")
        {
            data, store, state,
        };
        check.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(state) is { } stateDirectory)
            {
                return await CheckClusterAsync(Path.GetFullPath(stateDirectory.FullName), parse.GetValue(store), cancellationToken);
            }
            if (parse.GetValue(store) is { } url)
            {
                try
                {
                    var postgres = LedgerChecker.CheckPostgres(Bulwark.Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url));
                    Console.WriteLine(Describe(postgres));
                    return postgres.Ok ? 0 : 1;
                }
                catch (Exception error) when (error is Npgsql.NpgsqlException or IOException)
                {
                    Console.Error.WriteLine($"bulwark ledger check: cannot read the ledger at {Bulwark.Storage.Postgres.PostgresConnections.Redact(url)}: {error.Message}");
                    return 2;
                }
            }
            var paths = new BankPaths(parse.GetValue(data)!.FullName);
            if (!File.Exists(paths.Ledger))
            {
                Console.Error.WriteLine($"bulwark ledger check: no ledger at {paths.Ledger}. Run `bulwark run` first, or pass --data DIR.");
                return 2;
            }
            LedgerCheckReport report;
            try
            {
                report = BankLedger.Check(paths);
            }
            catch (Exception error) when (error is Microsoft.Data.Sqlite.SqliteException or IOException)
            {
                Console.Error.WriteLine($"bulwark ledger check: cannot read the ledger at {paths.Ledger}: {error.Message}");
                return 2;
            }
            Console.WriteLine(Describe(report));
            return report.Ok ? 0 : 1;
        });
        return new Command("ledger", "Ledger operations.") { check, LedgerReplayCommands.Replay(), LedgerReplayCommands.Verify() };
    }

    /// <summary><c>ledger check --state DIR</c>: every cell of a local cluster's ledger.</summary>
    private static async Task<int> CheckClusterAsync(string directory, string? url, CancellationToken cancellationToken)
    {
        IReadOnlyList<LedgerCellSource> sources;
        try
        {
            sources = await ClusterPlacement.CheckSourcesAsync(directory, url, cancellationToken);
        }
        catch (Bulwark.Lab.Cluster.ClusterException error)
        {
            await Console.Error.WriteLineAsync($"bulwark ledger check: {error.Message}");
            return 2;
        }
        LedgerCheckReport report;
        try
        {
            report = LedgerChecker.CheckCells(sources);
        }
        catch (Exception error) when (error is Microsoft.Data.Sqlite.SqliteException or Npgsql.NpgsqlException or IOException)
        {
            await Console.Error.WriteLineAsync($"bulwark ledger check: cannot read the cluster's ledger ({string.Join(", ", sources)}): {error.Message}");
            return 2;
        }
        await Console.Out.WriteLineAsync(Describe(report));
        return report.Ok ? 0 : 1;
    }

    /// <summary>Placement issues listed in full; beyond this the output says how many more there were.</summary>
    private const int PlacementIssuesListedMax = 10;

    /// <summary>Writes <paramref name="report"/>'s issues, refusals first, one line each.</summary>
    internal static void WriteIssues(PlacementConsistencyReport report, TextWriter writer)
    {
        var issues = report.Errors.Select(issue => $"  - refused: {issue.Message}")
            .Concat(report.Warnings.Select(issue => $"  - warning: {issue.Message}"))
            .ToList();
        foreach (var line in issues.Take(PlacementIssuesListedMax))
        {
            writer.WriteLine(line);
        }
        if (issues.Count > PlacementIssuesListedMax)
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  - and {issues.Count - PlacementIssuesListedMax} more"));
        }
    }

    internal static string Describe(LedgerCheckReport report)
    {
        if (report.Ok)
        {
            var cells = report.CellCount > 1 || report.CreditLegsInFlight > 0
                ? string.Create(CultureInfo.InvariantCulture, $"; {report.CellCount} cells, {report.CreditLegsInFlight} credit legs in flight between them")
                : "";
            return string.Create(CultureInfo.InvariantCulture, $"ledger ok: {report.AccountCount} accounts, {report.TransferCount} transfers, sum 0{cells}");
        }
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"ledger NOT ok: {report.Problems.Count} problem(s) in {report.AccountCount} accounts, {report.TransferCount} transfers");
        foreach (var problem in report.Problems)
        {
            text.AppendLine().Append("  - ").Append(problem);
        }
        return text.ToString();
    }
}
