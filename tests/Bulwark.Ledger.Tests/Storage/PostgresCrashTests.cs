using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Bulwark.Lab.Postgres;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;
using Bulwark.Storage.Postgres;

namespace Bulwark.Ledger.Tests.Storage;

/// <summary>
/// Durability on PostgreSQL: the crash host (a separate process) submits transfers as fast as it
/// can and prints each id once its batch committed; the test kills the writer process, or stops
/// PostgreSQL with <c>pg_ctl -m immediate</c> (no checkpoint: recovery replays the WAL), mid-load.
/// After a restart every acknowledged transfer is there exactly once and LedgerChecker is clean.
/// </summary>
public sealed class PostgresCrashTests
{
    private const int AcknowledgementsWanted = 3_000;
    private const int CrashHostAccounts = 16;

    [Fact]
    public async Task WriterProcessKilled_MidLoad_EveryAcknowledgedTransferSurvivesExactlyOnce()
    {
        var database = PostgresTestServer.NewDatabase("crash_writer");
        var acknowledged = await RunAndCrashAsync(database, crash: process => process.Kill(entireProcessTree: true));
        await AssertRecoveredAsync(database, acknowledged);
    }

    [Fact]
    public async Task ServerStoppedImmediately_MidLoad_EveryAcknowledgedTransferSurvivesExactlyOnce()
    {
        // A server of its own: stopping the shared one would fail the tests running beside this one.
        using var server = TemporaryPostgresServer.Start();
        server.RemoveWhenThisProcessExits();
        var database = server.CreateDatabase("crash_server");
        var acknowledged = await RunAndCrashAsync(database, crash: process =>
        {
            server.StopImmediate();
            process.Kill(entireProcessTree: true);
        });
        server.StartServer();
        await AssertRecoveredAsync(database, acknowledged);
    }

    private static async Task AssertRecoveredAsync(string database, List<UInt128> acknowledged)
    {
        await using var engine = new LedgerEngine(new LedgerOptions { DatabasePath = "postgres" }, new PostgresLedgerStore(database));
        await engine.StartAsync();
        var found = new List<LedgerTransfer>();
        foreach (var chunk in acknowledged.Chunk(LedgerLimits.LookupIdsMax))
        {
            found.AddRange(await engine.GetTransfersAsync(chunk));
        }
        var accounts = await engine.GetAccountsAsync(Enumerable.Range(1, CrashHostAccounts).Select(i => (UInt128)i).ToArray());
        var report = LedgerChecker.CheckPostgres(database);
        var afterRestart = await engine.SubmitAsync([new LedgerTransfer { Id = UInt128.MaxValue, DebitAccountId = 1, CreditAccountId = 2, Amount = 1, Currency = "GBP" }]);

        Assert.Equal(acknowledged.Count, acknowledged.Distinct().Count());
        Assert.Equal(acknowledged.ToHashSet(), found.Select(t => t.Id).ToHashSet());
        Assert.Equal(0, accounts.Sum(a => (decimal)a.CreditsPosted - a.DebitsPosted));
        Assert.True(report.Ok, string.Join(Environment.NewLine, report.Problems));
        Assert.True(report.TransferCount >= acknowledged.Count);
        Assert.True(afterRestart[0].IsOk);
    }

    private static async Task<List<UInt128>> RunAndCrashAsync(string connectionString, Action<Process> crash)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CrashHostPath());
        start.ArgumentList.Add(connectionString);
        start.ArgumentList.Add("4");
        start.ArgumentList.Add("50");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the crash host.");
        var errors = process.StandardError.ReadToEndAsync();
        var acknowledged = new List<UInt128>();
        try
        {
            // A bound on a hung child, not a timing assertion.
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
            crash(process);
            await process.WaitForExitAsync();
        }
        // Lines written before the crash but not yet read are acknowledgements too.
        while (await process.StandardOutput.ReadLineAsync() is { } rest)
        {
            if (rest.Length == 32 && UInt128.TryParse(rest, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var id))
            {
                acknowledged.Add(id);
            }
        }
        Assert.True(acknowledged.Count >= AcknowledgementsWanted,
            $"The crash host stopped after {acknowledged.Count} acknowledgements: {await errors}");
        return acknowledged;
    }

    private static string CrashHostPath()
    {
        var recorded = typeof(PostgresCrashTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(attribute => attribute.Key == "CrashHostPath")?.Value;
        if (string.IsNullOrEmpty(recorded) || !File.Exists(recorded))
        {
            throw new InvalidOperationException($"The crash host was not found at '{recorded}'.");
        }
        return recorded;
    }
}
