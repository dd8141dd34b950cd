using System.CommandLine;
using System.Data.Common;
using Bulwark.Cli.Cluster;
using Bulwark.Cli.Hosting;
using Bulwark.Cli.Operator;
using Bulwark.Cli.Reconcile;
using Bulwark.Ledger;
using Bulwark.Storage.Postgres;
using Grpc.Core;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark reconcile [--repair] [--json]</c>: compares the bank's records of the same money with
/// each other (<see cref="ReconcileChecks"/>) on a running bank or cluster, found as every operator
/// command finds it. Exit 0: no check found a difference; 1: differences (repaired or not); 2: the
/// bank could not be reached, or a check could not finish (the others still run and are printed).
/// </summary>
internal static class ReconcileCommand
{
    public static Command Create()
    {
        var common = CustomersCommand.CommonSymbols.Create();
        var repair = new Option<bool>("--repair") { Description = "Fix what is provably safe (each repair idempotent, and said); list the rest for a person." };
        var store = CommonOptions.PostgresStore("The bank's ledger is in PostgreSQL: postgres://user[:password]@host[:port]/database, for the checks that read the ledger's stores (a cluster's is known from its state).");
        var command = new Command("reconcile", "Compare the bank's records with each other — accounts' movements vs ledger transfers, card journal vs holds, clearing vs posts, transit accounts across cells, ledger vs event log — and print the differences. Exit 1 on any difference.");
        common.AddTo(command);
        command.Options.Add(repair);
        command.Options.Add(store);
        command.Action = new CustomersCommand.OperatorAction("reconcile", async (parse, session, cancellationToken) =>
        {
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var (sources, missing) = LedgerSources(bank, parse.GetValue(store));
            var context = new ReconcileContext(bank, parse.GetValue(repair), sources, missing, parse.GetValue(store));
            var results = new List<ReconcileCheckResult>();
            foreach (var check in ReconcileChecks.All())
            {
                results.Add(await RunAsync(check, context, cancellationToken));
            }
            var report = new ReconcileReport(bank.Description, context.Repair, results);
            if (parse.GetValue(common.Json))
            {
                report.WriteJson(session.Output);
            }
            else
            {
                report.WriteTable(session.Output);
            }
            return report.ExitCode;
        });
        return command;
    }

    /// <summary>One check, on its own: a service that does not answer or a store that cannot be read fails that check, not the others.</summary>
    private static async Task<ReconcileCheckResult> RunAsync(IReconcileCheck check, ReconcileContext context, CancellationToken cancellationToken)
    {
        try
        {
            return await check.RunAsync(context, cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
        {
            return ReconcileCheckResult.Failed(check, $"a call failed ({error.StatusCode}): {error.Status.Detail}");
        }
        catch (Exception error) when (error is OperatorException or DbException or IOException or UnauthorizedAccessException)
        {
            return ReconcileCheckResult.Failed(check, error.Message);
        }
    }

    /// <summary>Where the ledger cells' stores are, as <c>ledger check</c> finds them: the run bank's data directory, or the cluster's state.</summary>
    private static (Func<CancellationToken, Task<IReadOnlyList<LedgerCellSource>>>? Sources, string? Missing) LedgerSources(BankConnection bank, string? storeUrl)
    {
        if (bank.StateDirectory is { } state)
        {
            return (async cancellationToken =>
            {
                try
                {
                    return await ClusterPlacement.CheckSourcesAsync(state, storeUrl, cancellationToken);
                }
                catch (Bulwark.Lab.Cluster.ClusterException error)
                {
                    throw new OperatorException(error.Message);
                }
            }, null);
        }
        if (bank.DataDirectory is { } data)
        {
            var postgres = storeUrl is null ? null : PostgresConnections.ConnectionStringFromUrl(storeUrl);
            return (_ => Task.FromResult(BankLedger.Sources(new BankPaths(data), postgres)), null);
        }
        return (null, "not checked: the cells' stores are read directly (as ledger check does); reach the cluster with --state instead of --registry");
    }
}
