namespace Bulwark.Cli.Tests;

/// <summary>
/// The test classes that start a local cluster (<c>bulwark cluster up</c>: etcd, NATS, a dozen
/// service processes and a supervisor) run one at a time. Two at once beside another test project
/// put a 2-core machine at a load of 40 to 54, where etcd, the audit log and the supervisor's
/// probes missed their deadlines and tests failed on the machine rather than on the bank. The
/// other classes of this project still run beside them.
/// </summary>
[CollectionDefinition(Name)]
public sealed class LocalClusterCollection
{
    public const string Name = "Local clusters, one at a time";
}
