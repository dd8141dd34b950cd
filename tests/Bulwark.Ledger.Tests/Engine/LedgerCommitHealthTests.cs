using Bulwark.Ledger.Tests.Support;
using Bulwark.Platform.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Engine;

/// <summary>Readiness follows whether the writer can commit: false while the store fails like a full disk, true after a commit.</summary>
public sealed class LedgerCommitHealthTests
{
    [Fact]
    public async Task Commit_StoreFailsLikeAFullDisk_NotReadyUntilACommitSucceeds()
    {
        HookedStore? store = null;
        await using var ledger = await StartAsync(wrapStore: inner => store = new HookedStore(inner));
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2);
        Assert.Equal(HealthStatus.Healthy, await StatusAsync(ledger));

        store!.BeforeCommit = _ => throw new IOException("No space left on device");
        await Assert.ThrowsAsync<LedgerUnavailableException>(() => ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5)));
        var whileFull = await ledger.Engine.CommitHealth.CheckHealthAsync(new HealthCheckContext());
        // Still failing: still not ready.
        await Assert.ThrowsAsync<LedgerUnavailableException>(() => ledger.SubmitAsync(Transfer(11, Id(1), Id(2), 5)));
        var stillFull = await StatusAsync(ledger);

        store.BeforeCommit = null;
        await ledger.TransferOkAsync(12, Id(1), Id(2), 5);

        Assert.Equal(HealthStatus.Unhealthy, whileFull.Status);
        Assert.Contains("No space left on device", whileFull.Description, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Unhealthy, stillFull);
        Assert.Equal(HealthStatus.Healthy, await StatusAsync(ledger));
        Assert.True(ledger.Engine.CommitHealth.CanCommit);
    }

    [Fact]
    public async Task Probe_StoreRepairedAndNobodyWrites_ReadyAgainAfterTheNextSweep()
    {
        HookedStore? store = null;
        await using var ledger = await StartAsync(wrapStore: inner => store = new HookedStore(inner));
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2);
        var probes = 0;
        var broken = true;
        store!.BeforeCommit = commit =>
        {
            if (commit.ProbeAtUnixMs != 0)
            {
                Interlocked.Increment(ref probes);
            }
            if (Volatile.Read(ref broken))
            {
                throw new IOException("No space left on device");
            }
        };
        await Assert.ThrowsAsync<LedgerUnavailableException>(() => ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5)));

        // Still broken: the sweep's probe fails too, and the ledger stays not ready.
        ledger.Time.Advance(ledger.Engine.Options.ExpirySweepInterval);
        await UntilAsync(() => Volatile.Read(ref probes) >= 1);
        var whileBroken = await StatusAsync(ledger);

        // Repaired, and nobody writes: the next sweep's probe commits and readiness comes back.
        Volatile.Write(ref broken, false);
        var probesBefore = Volatile.Read(ref probes);
        ledger.Time.Advance(ledger.Engine.Options.ExpirySweepInterval);
        await UntilAsync(() => ledger.Engine.CommitHealth.CanCommit);

        Assert.Equal(HealthStatus.Unhealthy, whileBroken);
        Assert.True(Volatile.Read(ref probes) > probesBefore);
        Assert.Equal(HealthStatus.Healthy, await StatusAsync(ledger));
        // The probe moved no money: the failed transfer is not there, balances are untouched.
        Assert.Empty(await ledger.Engine.GetTransfersAsync([Id(10)]));
        Assert.All(await ledger.Engine.GetAccountsAsync([Id(1), Id(2)]), account => Assert.Equal(0, account.DebitsPosted + account.CreditsPosted));
    }

    [Fact]
    public async Task Probe_Healthy_SweepsWriteNothing()
    {
        HookedStore? store = null;
        await using var ledger = await StartAsync(wrapStore: inner => store = new HookedStore(inner));
        await ledger.AccountAsync(1);
        var probes = 0;
        // Called only for commits that write (HookedStore passes empty ones by).
        store!.BeforeCommit = commit =>
        {
            if (commit.ProbeAtUnixMs != 0)
            {
                Interlocked.Increment(ref probes);
            }
        };

        for (var tick = 0; tick < 3; tick++)
        {
            var batches = ledger.Engine.Statistics.BatchesCommitted;
            ledger.Time.Advance(ledger.Engine.Options.ExpirySweepInterval);
            await UntilAsync(() => ledger.Engine.Statistics.BatchesCommitted > batches);
        }

        Assert.Equal(0, Volatile.Read(ref probes));
    }

    [Fact]
    public async Task Probe_FailingForAMinute_OneLineAMinuteWithoutAStackTrace()
    {
        HookedStore? store = null;
        var log = new EventLog();
        await using var ledger = await StartAsync(wrapStore: inner => store = new HookedStore(inner), logger: log);
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2);
        var probes = 0;
        store!.BeforeCommit = commit =>
        {
            if (commit.ProbeAtUnixMs != 0)
            {
                Interlocked.Increment(ref probes);
            }
            throw new IOException("No space left on device");
        };
        await Assert.ThrowsAsync<LedgerUnavailableException>(() => ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5)));

        // Ten failed probes in ten seconds: one line. A minute on: one more.
        for (var second = 1; second <= 10; second++)
        {
            ledger.Time.Advance(TimeSpan.FromSeconds(1));
            var seen = second;
            await UntilAsync(() => Volatile.Read(ref probes) >= seen);
        }
        var afterTenSeconds = log.Count(1404);
        ledger.Time.Advance(TimeSpan.FromSeconds(LedgerLimits.ProbeFailureLogIntervalSeconds));
        await UntilAsync(() => Volatile.Read(ref probes) >= 11);

        Assert.Equal(1, afterTenSeconds);
        Assert.Equal(2, log.Count(1404));
        Assert.Equal(1, log.Count(1401));
        Assert.All(log.Entries.Where(entry => entry.EventId == 1404), entry => Assert.Null(entry.Exception));
    }

    /// <summary>Event ids and exceptions of what the engine logs.</summary>
    private sealed class EventLog : Microsoft.Extensions.Logging.ILogger<LedgerEngine>
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<(int EventId, Exception? Exception)> _entries = new();

        public IEnumerable<(int EventId, Exception? Exception)> Entries => _entries;

        public int Count(int eventId) => _entries.Count(entry => entry.EventId == eventId);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _entries.Enqueue((eventId.Id, exception));
    }

    /// <summary>Waits (up to 10 s of real time) for the writer thread to make <paramref name="condition"/> true.</summary>
    private static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not within 10 s");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task AddLedger_RegistersCommitHealthWithTheReadyTag()
    {
        using var directory = new TempDirectory(inMemory: false);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddLedger(new LedgerOptions { DatabasePath = directory.File("ledger.db") });
        await using var provider = services.BuildServiceProvider();

        var registrations = provider.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;

        var commit = Assert.Single(registrations, registration => registration.Name == "ledger-commit");
        Assert.Contains(BulwarkHost.ReadyTag, commit.Tags);
        Assert.Same(provider.GetRequiredService<LedgerEngine>().CommitHealth, commit.Factory(provider));
    }

    private static async Task<HealthStatus> StatusAsync(TestLedger ledger) =>
        (await ledger.Engine.CommitHealth.CheckHealthAsync(new HealthCheckContext())).Status;
}
