using System.Globalization;

namespace Bulwark.Bench;

/// <summary>
/// CPU time of a process and all its descendants, from Linux's /proc (user + system, with the
/// time of children already exited and reaped): the servers a bench starts (a nats-server, a
/// PostgreSQL postmaster and its backends) do part of the work in processes of their own.
/// </summary>
public static class ProcessTreeCpu
{
    /// <summary>The kernel's clock ticks per second for /proc's times (USER_HZ: 100 on every mainstream Linux build).</summary>
    private const double TicksPerSecond = 100;

    /// <summary>The tree's CPU time so far, or null when /proc cannot tell (not Linux, the process gone).</summary>
    public static TimeSpan? Of(int rootPid)
    {
        if (!Directory.Exists("/proc/" + rootPid.ToString(CultureInfo.InvariantCulture)))
        {
            return null;
        }
        var processes = new Dictionary<int, (int Parent, long Ticks)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Read(pid) is { } entry)
            {
                processes[pid] = entry;
            }
        }
        if (!processes.ContainsKey(rootPid))
        {
            return null;
        }
        long ticks = 0;
        foreach (var (pid, entry) in processes)
        {
            if (IsInTree(pid, rootPid, processes))
            {
                ticks += entry.Ticks;
            }
        }
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    /// <summary>A PID from a PID file's first line (PostgreSQL's postmaster.pid), or null.</summary>
    public static int? PidFromFile(string path)
    {
        try
        {
            var first = File.ReadLines(path).FirstOrDefault();
            return int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool IsInTree(int pid, int rootPid, Dictionary<int, (int Parent, long Ticks)> processes)
    {
        // Bounded: a process tree is far shallower than this, and a loop in a racing read must end.
        for (var depth = 0; depth < 64; depth++)
        {
            if (pid == rootPid)
            {
                return true;
            }
            if (!processes.TryGetValue(pid, out var entry) || entry.Parent <= 1)
            {
                return false;
            }
            pid = entry.Parent;
        }
        return false;
    }

    private static (int Parent, long Ticks)? Read(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // The command name is in parentheses and may hold spaces: the fields start after the last ')'.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
        if (fields.Length < 15 || !int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent))
        {
            return null;
        }
        long ticks = 0;
        for (var field = 11; field <= 14; field++)
        {
            ticks += long.TryParse(fields[field], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? Math.Max(0, value) : 0;
        }
        return (parent, ticks);
    }
}
