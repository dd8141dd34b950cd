using Bulwark.Lab.Cluster;

namespace Bulwark.Cli.Tests;

/// <summary>Free loopback ports for the processes the tests start.</summary>
internal static class TestPorts
{
    /// <summary>A port nothing listens on right now, outside the kernel's ephemeral range (the lab's own choice, <see cref="LocalProcesses.FreePort"/>).</summary>
    public static int FreePort() => LocalProcesses.FreePort();
}
