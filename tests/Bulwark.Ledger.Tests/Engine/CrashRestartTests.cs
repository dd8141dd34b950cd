using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Bulwark.Ledger.Tests.Support;

namespace Bulwark.Ledger.Tests.Engine;

/// <summary>
/// Durability across a hard kill: a separate process submits transfers as fast as it can and
/// prints each id once its batch is durable; the test kills it mid-stream, reopens the database
/// and demands every acknowledged transfer, exactly once, with the books still balancing.
/// </summary>
public sealed class CrashRestartTests
{
    private const int AcknowledgementsWanted = 3_000;
    private const int CrashHostAccounts = 16;

    [Fact]
    public async Task Kill_WhileSubmitting_EveryAcknowledgedTransferSurvivesExactlyOnce()
    {
        using var directory = new TempDirectory();
        var path = directory.File("ledger.db");
        var acknowledged = await RunAndKillAsync(path);

        await using var engine = LedgerEngine.CreateSqlite(new LedgerOptions { DatabasePath = path });
        await engine.StartAsync();
        var found = new List<LedgerTransfer>();
        foreach (var chunk in acknowledged.Chunk(LedgerLimits.LookupIdsMax))
        {
            found.AddRange(await engine.GetTransfersAsync(chunk));
        }
        var accounts = await engine.GetAccountsAsync(Enumerable.Range(1, CrashHostAccounts).Select(i => (UInt128)i).ToArray());
        var report = LedgerChecker.Check(path);
        var afterRestart = await engine.SubmitAsync([new LedgerTransfer { Id = UInt128.MaxValue, DebitAccountId = 1, CreditAccountId = 2, Amount = 1, Currency = "GBP" }]);

        Assert.Equal(acknowledged.Count, acknowledged.Distinct().Count());
        Assert.Equal(acknowledged.Count, found.Count);
        Assert.Equal(acknowledged.ToHashSet(), found.Select(t => t.Id).ToHashSet());
        Assert.Equal(0, accounts.Sum(a => (decimal)a.CreditsPosted - a.DebitsPosted));
        Assert.True(report.Ok, string.Join(Environment.NewLine, report.Problems));
        Assert.True(report.TransferCount >= acknowledged.Count);
        Assert.True(afterRestart[0].IsOk);
    }

    private static async Task<List<UInt128>> RunAndKillAsync(string databasePath)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CrashHostPath());
        start.ArgumentList.Add(databasePath);
        start.ArgumentList.Add("4");
        start.ArgumentList.Add("50");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the crash host.");
        var errors = process.StandardError.ReadToEndAsync();
        var acknowledged = new List<UInt128>();
        try
        {
            // A bound on a hung child, not a timing assertion: the host normally needs a second or two.
            using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (acknowledged.Count < AcknowledgementsWanted)
            {
                var line = await process.StandardOutput.ReadLineAsync(bound.Token);
                if (line is null)
                {
                    break;
                }
                if (line.Length == 32 && UInt128.TryParse(line, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var id))
                {
                    acknowledged.Add(id);
                }
            }
        }
        finally
        {
            // The crash: no shutdown, no drain, no checkpoint, whatever the writer was doing.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        Assert.True(acknowledged.Count >= AcknowledgementsWanted,
            $"The crash host stopped after {acknowledged.Count} acknowledgements: {await errors}");
        return acknowledged;
    }

    /// <summary>The crash host's dll, recorded at build time by the test project (see its csproj).</summary>
    private static string CrashHostPath()
    {
        var recorded = typeof(CrashRestartTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(attribute => attribute.Key == "CrashHostPath")?.Value;
        if (string.IsNullOrEmpty(recorded) || !File.Exists(recorded))
        {
            throw new InvalidOperationException(
                $"The crash host was not found at '{recorded}'. Build tests/Bulwark.Ledger.Tests (it builds the crash host first).");
        }
        return recorded;
    }
}
