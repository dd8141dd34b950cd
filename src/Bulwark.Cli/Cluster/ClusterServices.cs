using Bulwark.Cli.Hosting;
using Bulwark.Discovery.Etcd.Deployment;
using Bulwark.Lab.Cluster;

namespace Bulwark.Cli.Cluster;

/// <summary>
/// The bank's services as the local cluster runs them: the lab's <see cref="LocalServices"/> over
/// <see cref="BankModules"/>, started from this same bulwark binary, and the rules the cluster
/// commands check (how many instances a service may run, how a deploy replaces them).
/// </summary>
internal static class ClusterServices
{
    public const string EdgeService = BankModules.Edge;

    public const int ReplicasMaxStateless = 32;

    public static LocalServices Create(string stateDirectory, ClusterState state) => new(stateDirectory, state, BankModules.All, Binary());

    /// <summary>The program and leading arguments that run this same bulwark binary again.</summary>
    public static BulwarkBinary Binary()
    {
        var processPath = Environment.ProcessPath ?? throw new ClusterException("cannot tell which binary is running");
        var assembly = typeof(ClusterServices).Assembly.Location;
        return Path.GetFileNameWithoutExtension(processPath) == "dotnet" ? new(processPath, [assembly]) : new(processPath, []);
    }

    public static bool IsKnown(string service) => BankModules.Find(service) is not null;

    public static bool IsStateful(string service) => BankModules.Find(service)?.Stateful == true;

    public static string KnownServices => BankModules.Names;

    /// <summary>Whether the service's instances register in etcd (the edge does not: nothing calls it through discovery).</summary>
    public static bool Registers(string service) => BankModules.Find(service)?.Registers ?? true;

    /// <summary>
    /// How many instances a service may run: a stateful one on SQLite one (one process writes the
    /// file); on PostgreSQL the accounts and the support service any number (their stores take
    /// advisory locks for check-then-insert and the audit chain), the configuration any number
    /// (writers serialise on its revision row; watchers poll for other instances' commits), the
    /// ledger still one (one writer per partition, fenced by epoch).
    /// </summary>
    public static int ReplicasMax(string service, bool onPostgres) =>
        !IsStateful(service) ? ReplicasMaxStateless : service is BankModules.Accounts or BankModules.Support or BankModules.Config && onPostgres ? ReplicasMaxStateless : 1;

    /// <summary>How a deploy replaces instances: stop-then-start where two instances must not run at once.</summary>
    public static RolloutStrategy Strategy(string service, bool onPostgres) =>
        ReplicasMax(service, onPostgres) == 1 ? RolloutStrategy.Recreate : RolloutStrategy.Surge;
}
