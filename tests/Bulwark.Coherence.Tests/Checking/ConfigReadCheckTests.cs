using Bulwark.Coherence.Checking;
using Bulwark.Config;
using Bulwark.Platform.Configuration;
using Bulwark.Platform.Discovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Coherence.Tests.Checking;

/// <summary>
/// The configuration service's checks against the real configuration service and the platform's
/// real configuration client, through the checker's rounds: counted by check and result as the
/// cells' checks are; a read that does not show an acknowledged write is missing, logged with the
/// key and version (and alerted: deploy/prometheus/bulwark.rules.test.yml).
/// </summary>
public sealed class ConfigReadCheckTests
{
    private static readonly string[] KnownKeys = ["app/status-banner", "edge/staff/allowed-ranges"];

    private static Task<CoherenceBank> StartAsync(Func<IServiceProvider, ConfigReadCheck>? check = null) =>
        CoherenceBank.StartAsync(["a"], services: services =>
        {
            var directory = Path.Combine(Path.GetTempPath(), "bulwark-coherence-config", Guid.NewGuid().ToString("n"));
            Directory.CreateDirectory(directory);
            services.AddConfig(new ConfigOptions { DatabasePath = Path.Combine(directory, "config.db") });
            services.AddBulwarkConfig(new ConfigClientOptions { Prefixes = [ConfigReadCheck.Prefix, "app/", "edge/staff/"], CachePath = Path.Combine(directory, "cache.json") });
            if (check is null)
            {
                services.AddCoherenceConfigurationChecks(KnownKeys);
            }
            else
            {
                services.AddSingleton<IBankWideCheck>(check);
            }
        }, map: app => app.MapConfig());

    [Fact]
    public async Task RunRound_RealConfigurationServiceAndClient_WriteReadBackAndKnownKeys_CountedOk()
    {
        await using var bank = await StartAsync();
        await UntilTheClientConfirmedTheKnownKeysAsync(bank);

        var first = await bank.RoundAsync();
        var second = await bank.RoundAsync();

        foreach (var round in new[] { first, second })
        {
            var config = round.Where(outcome => outcome.Cell == ConfigReadCheck.Service).ToList();
            Assert.Equal([CoherenceCheck.ConfigWrite, CoherenceCheck.ConfigRead, CoherenceCheck.ConfigKnownRead, CoherenceCheck.ConfigKnownRead], config.Select(outcome => outcome.Check));
            Assert.All(config, outcome => Assert.True(outcome.Passed, $"{outcome.Check}: {outcome.Result} {outcome.Detail}"));
        }
        // Each round writes a new version, and reads that one back.
        var versions = new[] { first, second }.Select(round => round.Single(outcome => outcome.Check == CoherenceCheck.ConfigRead).Partition).ToArray();
        Assert.True(versions[1] > versions[0], string.Join(", ", versions));
        Assert.Equal(2, bank.Checks[$"{CoherenceCheck.ConfigWrite}/ok/config"]);
        Assert.Equal(2, bank.Checks[$"{CoherenceCheck.ConfigRead}/ok/config"]);
        Assert.Equal(4, bank.Checks[$"{CoherenceCheck.ConfigKnownRead}/ok/config"]);
    }

    /// <summary>
    /// Until the client's watch has had the service confirm the known keys' prefixes (bounded): a
    /// round before that answers them "unknown", rightly, and a full run on a loaded machine once
    /// had its first round there.
    /// </summary>
    private static async Task UntilTheClientConfirmedTheKnownKeysAsync(CoherenceBank bank)
    {
        var values = bank.Services.GetRequiredService<ConfigValues>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (KnownKeys.Any(key => values.Get(key) is ConfigUnknown { Reason: ConfigUnknownReason.Unavailable }))
        {
            Assert.True(DateTime.UtcNow < deadline, string.Join("; ", KnownKeys.Select(key => $"{key}: {values.Get(key)}")));
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task RunRound_ClientDoesNotShowTheAcknowledgedWrite_MissingCountedAndLoggedWithKeyAndVersion()
    {
        // A client that keeps answering an old value while in contact with the service: what a
        // consumer would act on although the service acknowledged a newer one.
        await using var bank = await StartAsync(provider => new ConfigReadCheck(
            provider.GetRequiredService<IServiceChannelFactory>().GetChannel("config"),
            key => key == ConfigReadCheck.SyntheticKey ? new ConfigValue("round 0", 1) : provider.GetRequiredService<ConfigValues>().Get(key),
            () => true, KnownKeys, TimeProvider.System, provider.GetRequiredService<ILogger<ConfigReadCheck>>()));

        var round = await bank.RoundAsync();

        Assert.True(round.Single(outcome => outcome.Check == CoherenceCheck.ConfigWrite).Passed);
        var read = round.Single(outcome => outcome.Check == CoherenceCheck.ConfigRead);
        Assert.Equal(CoherenceResult.Missing, read.Result);
        Assert.Contains($"key {ConfigReadCheck.SyntheticKey} version {read.Partition}", read.Detail, StringComparison.Ordinal);
        Assert.Equal(1, bank.Checks[$"{CoherenceCheck.ConfigRead}/missing/config"]);
        var line = Assert.Single(bank.Logs, log => log.EventId.Id == 9121);
        Assert.Equal(LogLevel.Error, line.Level);
        Assert.Contains($"key {ConfigReadCheck.SyntheticKey}, version {read.Partition}", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunRound_KnownKeyTheServiceNoLongerShows_Missing_AndAClientOutOfContact_IsAnErrorNotMissing()
    {
        var answers = new Dictionary<string, ConfigAnswer>
        {
            // The 2019 not-found: the client held the ranges at version 7 and the service's view lacks them.
            ["edge/staff/allowed-ranges"] = new ConfigUnknown(new ConfigValue("10.0.0.0/8", 7), ConfigUnknownReason.UntrustedNotFound, "not in the service's view"),
            ["app/status-banner"] = new ConfigUnknown(null, ConfigUnknownReason.Unavailable, "no word from the service"),
        };
        await using var bank = await StartAsync(provider => new ConfigReadCheck(
            provider.GetRequiredService<IServiceChannelFactory>().GetChannel("config"),
            key => answers.TryGetValue(key, out var answer) ? answer : new ConfigUnknown(null, ConfigUnknownReason.Unavailable, "no word from the service"),
            () => false, KnownKeys, TimeProvider.System, provider.GetRequiredService<ILogger<ConfigReadCheck>>()));

        var round = await bank.RoundAsync();

        var known = round.Where(outcome => outcome.Check == CoherenceCheck.ConfigKnownRead).ToDictionary(outcome => outcome.Detail.Split(' ')[1]);
        Assert.Equal(CoherenceResult.Missing, known["edge/staff/allowed-ranges"].Result);
        Assert.Equal(7, known["edge/staff/allowed-ranges"].Partition);
        Assert.Equal(CoherenceResult.Error, known["app/status-banner"].Result);
        // The write was acknowledged, but the client was out of contact: the read could not be made.
        Assert.Equal(CoherenceResult.Error, round.Single(outcome => outcome.Check == CoherenceCheck.ConfigRead).Result);
        Assert.Single(bank.Logs, log => log.EventId.Id == 9121 && log.Message.Contains("edge/staff/allowed-ranges, version 7", StringComparison.Ordinal));
    }
}
