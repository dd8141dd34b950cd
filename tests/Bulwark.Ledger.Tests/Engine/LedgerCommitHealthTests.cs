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
