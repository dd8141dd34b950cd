using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Bulwark.Ledger.Tests.Support;

/// <summary>
/// A real nats-server with JetStream (Debian's package, installed by scripts/test) on a free
/// loopback port, its store in a temporary directory; killed by its PID on dispose.
/// </summary>
public sealed class NatsTestServer : IDisposable
{
    private readonly TempDirectory _directory;
    private readonly Process _process;

    private NatsTestServer(int port, Process process, TempDirectory directory)
    {
        Port = port;
        _process = process;
        _directory = directory;
    }

    public int Port { get; }

    public string Url => string.Create(CultureInfo.InvariantCulture, $"nats://127.0.0.1:{Port}");

    public static NatsTestServer Start()
    {
        var binary = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "nats-server")).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nats-server is not installed (scripts/test installs the Debian package 'nats-server').");
        var port = FreePort();
        var directory = new TempDirectory(inMemory: false);
        var log = Path.Combine(directory.Path, "server.log");
        var start = new ProcessStartInfo(binary) { UseShellExecute = false };
        foreach (var argument in (string[])["-js", "-a", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-sd", Path.Combine(directory.Path, "store"), "-l", log])
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start nats-server.");
        var server = new NatsTestServer(port, process, directory);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!ReadLog(log).Contains("Server is ready", StringComparison.Ordinal))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                server.Dispose();
                throw new InvalidOperationException($"nats-server did not start: {ReadLog(log)}");
            }
            Thread.Sleep(50);
        }
        return server;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string ReadLog(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(TimeSpan.FromSeconds(30));
        }
        _process.Dispose();
        _directory.Dispose();
    }
}
