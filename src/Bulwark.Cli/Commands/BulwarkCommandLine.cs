using System.CommandLine;

namespace Bulwark.Cli.Commands;

/// <summary>The <c>bulwark</c> command tree.</summary>
public static class BulwarkCommandLine
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Bulwark: a core-banking backend — accounts, pots, cards, a double-entry ledger, a feed and an app API.");
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(ClusterCommand.Create());
        root.Subcommands.Add(ClusterOperations.CreateScale());
        root.Subcommands.Add(ClusterOperations.CreateDeploy());
        root.Subcommands.Add(ClusterOperations.CreateRollback());
        root.Subcommands.Add(ClusterOperations.CreateEtcd());
        root.Subcommands.Add(LedgerCommand.Create());
        root.Subcommands.Add(ReconcileCommand.Create());
        root.Subcommands.Add(CellsCommand.Create());
        root.Subcommands.Add(CoherenceCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(CardsCommand.Create());
        root.Subcommands.Add(CustomersCommand.Create());
        root.Subcommands.Add(ConfigCommand.Create());
        root.Subcommands.Add(StaffCommand.Create());
        root.Subcommands.Add(AuditCommand.Create());
        root.Subcommands.Add(SchemeCommand.Create());
        root.Subcommands.Add(BackupCommand.CreateBackup());
        root.Subcommands.Add(BackupCommand.CreateRestore());
        return root;
    }
}
