using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Bulwark.Cli.Tests;

/// <summary>The bulwark binary as a child process, and what the tests read of the processes it starts.</summary>
internal static class BulwarkProcess
{
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    /// <summary>
    /// For <c>etcd add-member|remove-member</c>: etcd refuses a membership change for as long as a
    /// recent member is not connected to all, and the command asks again for up to three minutes
    /// (LocalEtcd) before it waits up to 30 s for health; a shorter bound here killed a command that would have succeeded.
    /// </summary>
    public static readonly TimeSpan MembershipBound = TimeSpan.FromMinutes(4);

    public static Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => RunAsync(null, args);

    /// <summary>As <see cref="RunAsync(string[])"/> with a bound of its own.</summary>
    public static Task<(int ExitCode, string Output, string Error)> RunAsync(TimeSpan bound, params string[] args) => RunAsync(null, bound, args);

    /// <summary>Runs one bulwark command to its end (bounded), with its output and error.</summary>
    public static Task<(int ExitCode, string Output, string Error)> RunAsync(Dictionary<string, string>? environment, params string[] args) =>
        RunAsync(environment, Bound, args);

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(Dictionary<string, string>? environment, TimeSpan limit, string[] args) =>
        await RunWithInputAsync(await OperatorStaff.EnvironmentAsync(environment, args), limit, null, args);

    /// <summary>Runs one bulwark command with <paramref name="input"/> on its standard input (null: none), as given: no staff login is added.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunWithInputAsync(Dictionary<string, string>? environment, TimeSpan limit, string? input, string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
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
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }
        process.StandardInput.Close();
        using var bound = new CancellationTokenSource(limit);
        var output = process.StandardOutput.ReadToEndAsync(bound.Token);
        var error = process.StandardError.ReadToEndAsync(bound.Token);
        await process.WaitForExitAsync(bound.Token);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Starts a bulwark command that runs until stopped (a bank), its output and error redirected.</summary>
    public static Process Start(params string[] args) => Start(null, args);

    /// <summary>As <see cref="Start(string[])"/>, with variables added to the bank's environment.</summary>
    public static Process Start(Dictionary<string, string>? environment, params string[] args)
    {
        // An operator command run in the background (a cell move) acts as staff as the others do.
        environment = OperatorStaff.EnvironmentAsync(environment, args).GetAwaiter().GetResult();
        // Through env --default-signal=INT: a test run started as a background job (as CI or a
        // shell's `&` may) ignores SIGINT, and children inherit that; the Ctrl-C these tests send
        // would then never reach the bank.
        var start = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "bulwark.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }
        return Process.Start(start) ?? throw new InvalidOperationException("could not start bulwark");
    }

    /// <summary>Reads output lines into <paramref name="lines"/> until one is <paramref name="done"/> (bounded); fails if the output ends first.</summary>
    /// <summary>Reads stdout until <paramref name="done"/>; <paramref name="errors"/>: the caller's drain of stderr, if it started one.</summary>
    public static async Task ReadUntilAsync(Process process, List<string> lines, Func<string, bool> done, Task<string>? errors = null)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (await process.StandardOutput.ReadLineAsync(bound.Token) is { } line)
        {
            lines.Add(line);
            if (done(line))
            {
                return;
            }
        }
        Assert.Fail("bulwark ended its output early:\n" + string.Join('\n', lines) + "\n" + await (errors ?? process.StandardError.ReadToEndAsync(bound.Token)));
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
