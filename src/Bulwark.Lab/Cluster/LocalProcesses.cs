using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Bulwark.Lab.Cluster;

/// <summary>
/// Detached child processes of the local cluster: each runs in a session of its own (so that
/// Ctrl-C on the command that started it, or closing its terminal, does not reach it), with its
/// standard output and error appended to a log file. They are known by PID only, and a PID is
/// signalled only while its command line still names the cluster's state directory: a PID reused
/// by an unrelated process after a reboot is left alone.
/// </summary>
public static class LocalProcesses
{
    private const int PollMilliseconds = 100;

    /// <summary>Starts <paramref name="file"/> detached; returns its PID.</summary>
    public static int StartDetached(string file, IEnumerable<string> arguments, string logPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        // setsid starts a new session without forking (sh is not a process-group leader), so the
        // PID returned is the PID of the program itself once exec has replaced sh and setsid.
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec setsid \"$0\" \"$@\" </dev/null >>\"$BULWARK_CLUSTER_LOG\" 2>&1");
        start.ArgumentList.Add(file);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["BULWARK_CLUSTER_LOG"] = logPath;
        if (environment is not null)
        {
            foreach (var (name, value) in environment)
            {
                start.Environment[name] = value;
            }
        }
        using var process = Process.Start(start) ?? throw new ClusterException($"could not start {file}");
        WaitExecuted(process.Id, file);
        return process.Id;
    }

    /// <summary>
    /// Waits (bounded) until sh and setsid have exec'd the program: until then the PID's command
    /// line is theirs, or empty mid-exec, and the process would not be recognised as ours.
    /// </summary>
    private static void WaitExecuted(int pid, string file)
    {
        var deadline = DateTime.UtcNow.AddSeconds(ExecWaitSecondsMax);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var arguments = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
                if (arguments.Length > 0 && arguments[0] == file)
                {
                    return;
                }
            }
            catch (IOException)
            {
                return; // Gone already: the caller's health wait reports it with the log path.
            }
            Thread.Sleep(5);
        }
    }

    private const int ExecWaitSecondsMax = 5;

    /// <summary>Alive and ours: the process exists, is not a zombie, and its command line names <paramref name="marker"/>.</summary>
    public static bool IsRunning(int pid, string marker)
    {
        if (pid <= 0)
        {
            return false;
        }
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault();
            if (state is 'Z' or 'X')
            {
                return false;
            }
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            return commandLine.Contains(marker, StringComparison.Ordinal);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Stops a process the clean way: SIGTERM (or <paramref name="signal"/>), wait up to <paramref name="grace"/>, then SIGKILL
    /// and wait a little more. Returns how it ended: "stopped", "killed" or "not running".
    /// </summary>
    public static async Task<string> StopAsync(int pid, string marker, TimeSpan grace, CancellationToken cancellationToken, string signal = "TERM")
    {
        if (!IsRunning(pid, marker))
        {
            return "not running";
        }
        await SignalAsync(pid, signal);
        if (await WaitGoneAsync(pid, marker, grace, cancellationToken))
        {
            return "stopped";
        }
        await SignalAsync(pid, "KILL");
        await WaitGoneAsync(pid, marker, TimeSpan.FromSeconds(5), cancellationToken);
        return "killed";
    }

    public static async Task<bool> WaitGoneAsync(int pid, string marker, TimeSpan bound, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + bound;
        while (IsRunning(pid, marker))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            await Task.Delay(PollMilliseconds, cancellationToken);
        }
        return true;
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        var start = new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var kill = Process.Start(start) ?? throw new ClusterException("could not run kill");
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await kill.WaitForExitAsync(bound.Token);
    }

    /// <summary>
    /// A free TCP port on loopback for a process to listen on soon after. Chosen at random below
    /// the kernel's ephemeral range (ip_local_port_range), not by binding port 0: a port the
    /// kernel hands out for a listener is drawn from the same range as the local ports of
    /// outgoing connections, and on a busy machine one of those takes it between "free now" and
    /// the process binding it ("address already in use"). Falls back to the kernel's choice when
    /// no port below the range is free after a bounded number of tries.
    /// </summary>
    public static int FreePort()
    {
        var (low, high) = ListenPortRange();
        for (var attempt = 0; attempt < FreePortAttemptsMax && high > low; attempt++)
        {
            var candidate = Random.Shared.Next(low, high);
            if (IsPortFree(candidate))
            {
                return candidate;
            }
        }
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private const int FreePortAttemptsMax = 64;
    private const int ListenPortLowest = 10_000;

    /// <summary>Ports from 10,000 up to the start of the kernel's ephemeral range (32,768 on Linux by default).</summary>
    private static (int Low, int High) ListenPortRange()
    {
        var ephemeralLow = 32_768;
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (range.Length >= 1 && int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                ephemeralLow = parsed;
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or hidden: the usual default.
        }
        return (ListenPortLowest, Math.Max(ListenPortLowest, ephemeralLow));
    }

    public static bool IsPortFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Finds <paramref name="program"/> on PATH, or null.</summary>
    public static string? FindOnPath(string program)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
