using System.Diagnostics;

namespace Bulwark.Platform.Tests;

/// <summary>
/// The alert rules in deploy/prometheus are checked and unit-tested by Prometheus's own tool,
/// so a rule that cannot parse or does not fire when it should fails the build.
/// </summary>
public sealed class AlertRulesTests
{
    private static readonly string RulesDirectory = Path.Combine(RepositoryRoot(), "deploy", "prometheus");

    [Fact]
    public async Task Rules_PromtoolCheck_Succeeds()
    {
        var (exit, output) = await PromtoolAsync("check", "rules", "bulwark.rules.yml");

        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rules_PromtoolUnitTests_Pass()
    {
        var (exit, output) = await PromtoolAsync("test", "rules", "bulwark.rules.test.yml");

        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Rules_EveryAlert_HasARunbookSection()
    {
        var rules = File.ReadAllLines(Path.Combine(RulesDirectory, "bulwark.rules.yml"));
        var runbook = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "runbooks", "alerts.md"));
        var alerts = rules.Select(line => line.Trim()).Where(line => line.StartsWith("- alert: ", StringComparison.Ordinal)).Select(line => line["- alert: ".Length..]).ToList();

        Assert.NotEmpty(alerts);
        Assert.All(alerts, alert => Assert.Contains($"## {alert}", runbook, StringComparison.Ordinal));
    }

    private static async Task<(int Exit, string Output)> PromtoolAsync(params string[] args)
    {
        var start = new ProcessStartInfo("promtool")
        {
            WorkingDirectory = RulesDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception error)
        {
            throw new InvalidOperationException("promtool is not installed (Debian package `prometheus`; scripts/test installs it).", error);
        }
        using (process)
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            var output = process.StandardOutput.ReadToEndAsync(bound.Token);
            var error = process.StandardError.ReadToEndAsync(bound.Token);
            await process.WaitForExitAsync(bound.Token);
            return (process.ExitCode, await output + await error);
        }
    }

    /// <summary>Found from this source file's path, so it works whatever the build output directory is.</summary>
    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { Path.GetDirectoryName(sourceFile), AppContext.BaseDirectory })
        {
            for (var directory = start is null ? null : new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Bulwark.slnx")))
                {
                    return directory.FullName;
                }
            }
        }
        throw new InvalidOperationException($"No Bulwark.slnx above {sourceFile} or {AppContext.BaseDirectory}.");
    }
}
