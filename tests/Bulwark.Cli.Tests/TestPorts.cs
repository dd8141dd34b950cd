using System.Net;
using System.Net.Sockets;

namespace Bulwark.Cli.Tests;

/// <summary>Free loopback ports for the processes the tests start.</summary>
internal static class TestPorts
{
    /// <summary>A port nothing listens on right now (the OS picks it; it is released before return).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
