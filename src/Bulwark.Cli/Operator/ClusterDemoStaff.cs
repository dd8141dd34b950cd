using Bulwark.Cli.Demo;
using Bulwark.Lab.Cluster;
using Grpc.Core;

namespace Bulwark.Cli.Operator;

/// <summary>
/// <c>bulwark cluster up</c>: the cluster's demo staff member (all three roles), as <c>bulwark run</c>
/// makes one, so that operator commands, which act as a staff member, have someone to log in as.
/// Kept in <c>STATE/keys/demo-staff.json</c> (0600). Made straight through the staff directory's
/// contract (bootstrapping: before it no staff member exists who could be audited).
/// </summary>
internal static class ClusterDemoStaff
{
    private const string BankModulesSupport = Hosting.BankModules.Support;

    public static string PathIn(string stateDirectory) => Path.Combine(stateDirectory, "keys", "demo-staff.json");

    /// <summary>0 when the demo staff member exists (made now or before); 1 when it could not be made (the cluster stays up).</summary>
    public static async Task<int> EnsureAsync(string stateDirectory, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        try
        {
            // A cluster without the support service (or without a staff edge) has no staff directory to add to, and no door to log in at.
            var state = ClusterState.Load(stateDirectory);
            if (state is null || !state.Instances.Any(instance => instance.Service == BankModulesSupport) || !state.Instances.Any(instance => instance.StaffPort is not null))
            {
                return 0;
            }
            await using var bank = await BankConnection.ConnectAsync(new BankTarget(null, stateDirectory, null) { Direct = true }, cancellationToken);
            await output.WriteLineAsync(await DemoStaff.EnsureAsync(bank.Staff, PathIn(stateDirectory), cancellationToken));
            return 0;
        }
        catch (Exception error) when (error is OperatorException or InvalidOperationException or IOException or ClusterException || (error is RpcException rpc && rpc.StatusCode != StatusCode.Cancelled))
        {
            await Console.Error.WriteLineAsync($"bulwark cluster up: the cluster is up, but making its demo staff member failed: {error.Message}");
            return 1;
        }
    }
}
