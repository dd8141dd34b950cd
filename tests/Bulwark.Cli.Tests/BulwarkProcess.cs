using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Bulwark.Cli.Tests;

/// <summary>The bulwark binary as a child process, and what the tests read of the processes it starts.</summary>
internal static class BulwarkProcess
{
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    public static Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => RunAsync(null, args);

    /// <summary>Runs one bulwark command to its end (bounded), with its output and error.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(Dictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "bulwark.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bulwark");
        using var bound = new CancellationTokenSource(Bound);
        var output = process.StandardOutput.ReadToEndAsync(bound.Token);
        var error = process.StandardError.ReadToEndAsync(bound.Token);
        await process.WaitForExitAsync(bound.Token);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Alive and not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Sends a signal (KILL, STOP, CONT, TERM) to a process this test started (directly or through the cluster).</summary>
    public static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <summary>The cluster state file of a local cluster, parsed.</summary>
    public static JsonDocument State(string stateDirectory) => JsonDocument.Parse(File.ReadAllText(Path.Combine(stateDirectory, "cluster.json")));
}
