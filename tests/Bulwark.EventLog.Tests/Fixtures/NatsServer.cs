using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Bulwark.EventLog.Tests.Fixtures;

/// <summary>
/// A real nats-server with JetStream for a test (Debian's package, installed by scripts/test), on
/// a free loopback port with its store in a temporary directory. It can be stopped and started
/// again on the same port and store, paused (SIGSTOP: a hung server) and resumed. Killed by its
/// PID on dispose; nothing else is signalled.
/// </summary>
public sealed class NatsServer : IDisposable
{
    private readonly TempDirectory _directory = new("bulwark-nats");
    private readonly string _name;
    private readonly int _clusterPort;
    private readonly IReadOnlyList<int> _routes;
    private Process? _process;

    private NatsServer(string name, int port, int clusterPort, IReadOnlyList<int> routes)
    {
        _name = name;
        Port = port;
        _clusterPort = clusterPort;
        _routes = routes;
    }

    public int Port { get; }

    public string Url => string.Create(CultureInfo.InvariantCulture, $"nats://127.0.0.1:{Port}");

    public string LogPath => Path.Combine(_directory.Path, "server.log");

    public static NatsServer Start()
    {
        var server = new NatsServer("n1", FreePort(), 0, []);
        server.Launch();
        server.WaitReady();
        return server;
    }

    /// <summary>Three servers routed to each other (one JetStream cluster), started together.</summary>
    public static IReadOnlyList<NatsServer> StartCluster(int size = 3)
    {
        var clusterPorts = Enumerable.Range(0, size).Select(_ => FreePort()).ToArray();
        var servers = Enumerable.Range(0, size)
            .Select(i => new NatsServer($"n{i + 1}", FreePort(), clusterPorts[i], clusterPorts))
            .ToList();
        foreach (var server in servers)
        {
            server.Launch();
        }
        foreach (var server in servers)
        {
            server.WaitReady();
        }
        return servers;
    }

    public void Launch()
    {
        var binary = FindOnPath("nats-server") ?? throw new InvalidOperationException(
            "nats-server is not installed (scripts/test installs the Debian package 'nats-server').");
        var start = new ProcessStartInfo(binary) { UseShellExecute = false };
        foreach (var argument in (string[])["-js", "-a", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture),
            "-sd", Path.Combine(_directory.Path, "store"), "-n", _name, "-l", LogPath])
        {
            start.ArgumentList.Add(argument);
        }
        if (_clusterPort != 0)
        {
            start.ArgumentList.Add("--cluster_name");
            start.ArgumentList.Add("bulwark-test");
            start.ArgumentList.Add("--cluster");
            start.ArgumentList.Add(string.Create(CultureInfo.InvariantCulture, $"nats://127.0.0.1:{_clusterPort}"));
            start.ArgumentList.Add("--routes");
            start.ArgumentList.Add(string.Join(",", _routes.Where(p => p != _clusterPort).Select(p => string.Create(CultureInfo.InvariantCulture, $"nats://127.0.0.1:{p}"))));
        }
        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start nats-server.");
    }

    /// <summary>Waits (bounded) until the server accepts connections.</summary>
    public void WaitReady()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process is { HasExited: true })
            {
                throw new InvalidOperationException($"nats-server exited with {_process.ExitCode}: {ReadLog()}");
            }
            if (ReadLog().Contains("Server is ready", StringComparison.Ordinal))
            {
                return;
            }
            Thread.Sleep(50);
        }
        throw new InvalidOperationException($"nats-server did not become ready within 30 s: {ReadLog()}");
    }

    /// <summary>Kills the server by its PID (as a crash would) and waits for it to go.</summary>
    public void Stop()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit(TimeSpan.FromSeconds(30));
        }
        _process?.Dispose();
        _process = null;
    }

    /// <summary>Starts the stopped server again on the same port and store.</summary>
    public void Restart()
    {
        Stop();
        Launch();
        WaitReady();
    }

    /// <summary>SIGSTOP: the server keeps its connections and answers nothing (a hung peer).</summary>
    public void Pause() => Signal("STOP");

    public void Resume() => Signal("CONT");

    /// <summary>
    /// Sends the signal and waits until the kernel shows the server stopped (STOP) or running again
    /// (CONT): a full run once saw an append answered "while paused" in 209 ms, so the pause is now
    /// checked, not assumed.
    /// </summary>
    private void Signal(string signal)
    {
        var pid = _process?.Id ?? throw new InvalidOperationException("nats-server is not running.");
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {pid} exited with {kill.ExitCode}.");
        }
        var wantStopped = signal == "STOP";
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (IsStopped(pid) != wantStopped)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"nats-server {pid} is not {(wantStopped ? "stopped" : "running")} 5 s after kill -{signal}.");
            }
            Thread.Sleep(10);
        }
    }

    /// <summary>True when /proc says the process is stopped (state T): the state is the field after the command's closing parenthesis.</summary>
    private static bool IsStopped(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var state = stat[(stat.LastIndexOf(')') + 2)..].TrimStart()[0];
        return state is 'T' or 't';
    }

    private string ReadLog()
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
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
        if (_process is { HasExited: false })
        {
            Resume();
        }
        Stop();
        _directory.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
}
