using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Bulwark.Lab.Cluster;

namespace Bulwark.Lab.Nats;

/// <summary>
/// A throw-away nats-server with JetStream for benchmarks: the binary on PATH, on a free loopback
/// port, its store in a fresh temporary directory. On dispose the process it started (by its own
/// handle, never by name) is killed and the directory removed.
/// </summary>
public sealed class TemporaryNatsServer : IDisposable
{
    /// <summary>A single server starts in well under a second; generous for a loaded 2-core machine.</summary>
    private const int ListeningWithinSecondsMax = 20;

    private readonly Process _process;
    private bool _disposed;

    private TemporaryNatsServer(Process process, string root, int port)
    {
        _process = process;
        Root = root;
        Port = port;
    }

    public string Root { get; }

    public int Port { get; }

    /// <summary>The server's process id (for its CPU time).</summary>
    public int Pid => _process.Id;

    public string Url => string.Create(CultureInfo.InvariantCulture, $"nats://127.0.0.1:{Port}");

    /// <summary>The server's version line (<c>nats-server --version</c>).</summary>
    public string Version { get; private init; } = "";

    /// <summary>Starts the server and waits until it accepts connections; throws naming its log when it does not.</summary>
    public static TemporaryNatsServer Start()
    {
        var binary = LocalNats.RequireBinary();
        var root = Path.Combine(Path.GetTempPath(), "bulwark-nats-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(root);
        var port = LocalProcesses.FreePort();
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-js", "-a", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-sd", Path.Combine(root, "store"), "-l", Path.Combine(root, "nats.log") })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("nats-server did not start.");
        var server = new TemporaryNatsServer(process, root, port) { Version = VersionOf(binary) };
        try
        {
            server.WaitListening();
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    private void WaitListening()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(ListeningWithinSecondsMax))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"nats-server exited at start (code {_process.ExitCode}); see {Path.Combine(Root, "nats.log")}.");
            }
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        throw new TimeoutException($"nats-server did not listen on port {Port} within {ListeningWithinSecondsMax} s; see {Path.Combine(Root, "nats.log")}.");
    }

    private static string VersionOf(string binary)
    {
        using var process = Process.Start(new ProcessStartInfo(binary, "--version") { RedirectStandardOutput = true, UseShellExecute = false });
        if (process is null)
        {
            return "nats-server";
        }
        var text = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit(5_000);
        return text;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temporary directory.
        }
    }
}
