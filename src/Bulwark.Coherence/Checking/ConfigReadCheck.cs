using System.Globalization;
using Bulwark.Config.Protos;
using Bulwark.Platform.Configuration;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using ConfigClient = Bulwark.Config.Protos.Config.ConfigClient;

namespace Bulwark.Coherence.Checking;

/// <summary>
/// The configuration service's coherence checks (issue 13, item 5), once a round: <c>config_write</c>
/// puts a new value into the checker's synthetic key (<see cref="SyntheticKey"/>, under its own
/// prefix) through the service's contract; <c>config_read</c> reads it back through the platform's
/// configuration client — the watch, the memory and the last-known-good rules every consumer reads
/// configuration through — and fails as <c>missing</c> when the client, confirmed fresh by the
/// service, does not show the acknowledged version within
/// <see cref="CoherenceLimits.ConfigReadWaitMilliseconds"/>; <c>config_known_read</c> reads the known
/// keys (the staff edge's ranges, the status banner) and fails as <c>missing</c> when the client
/// refused the service's answer as the 2019 not-found or a revision gone back. Every missing read is
/// logged naming the key and the version (event 9121). The outcomes' cell is <see cref="Service"/>.
/// </summary>
public sealed partial class ConfigReadCheck : IBankWideCheck
{
    /// <summary>The cell label of this check's outcomes: the service checked.</summary>
    public const string Service = "config";

    /// <summary>The prefix of the checker's own keys (watched by the process's configuration client).</summary>
    public const string Prefix = "coherence/";

    /// <summary>The key the checker writes and reads back; one for every checker (a write conflicting with another checker's is retried once).</summary>
    public const string SyntheticKey = Prefix + "synthetic";

    private readonly ConfigClient _config;
    private readonly Func<string, ConfigAnswer> _read;
    private readonly Func<bool> _fresh;
    private readonly IReadOnlyList<string> _knownKeys;
    private readonly TimeProvider _time;
    private readonly ILogger<ConfigReadCheck> _logger;
    private long _round;

    /// <param name="config">The calls to the configuration service (<c>bulwark:///config</c>), for its contract's writes.</param>
    /// <param name="read">The configuration client's answer for a key (<see cref="ConfigValues.Get"/>).</param>
    /// <param name="fresh">Whether the service has confirmed the client's prefixes within the staleness bound (<see cref="ConfigValues.IsFresh"/>).</param>
    /// <param name="knownKeys">Keys every round reads (at most <see cref="CoherenceLimits.ConfigKnownKeysMax"/>), each under a prefix the client watches.</param>
    public ConfigReadCheck(CallInvoker config, Func<string, ConfigAnswer> read, Func<bool> fresh, IReadOnlyList<string> knownKeys, TimeProvider time, ILogger<ConfigReadCheck> logger)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(fresh);
        ArgumentNullException.ThrowIfNull(knownKeys);
        if (knownKeys.Count > CoherenceLimits.ConfigKnownKeysMax)
        {
            throw new ArgumentException($"At most {CoherenceLimits.ConfigKnownKeysMax} known keys.", nameof(knownKeys));
        }
        _config = new ConfigClient(config);
        _read = read;
        _fresh = fresh;
        _knownKeys = knownKeys;
        _time = time ?? TimeProvider.System;
        _logger = logger;
    }

    public async Task<IReadOnlyList<CheckOutcome>> RunAsync(CancellationToken budget)
    {
        var outcomes = new List<CheckOutcome>();
        var round = Interlocked.Increment(ref _round);
        var value = string.Create(CultureInfo.InvariantCulture, $"round {round} at {_time.GetUtcNow():O}");
        var (write, acknowledged) = await WriteAsync(value, budget);
        outcomes.Add(write);
        if (acknowledged is { } version)
        {
            outcomes.Add(await ReadBackAsync(value, version, budget));
        }
        foreach (var key in _knownKeys)
        {
            outcomes.Add(ReadKnown(key));
        }
        return outcomes;
    }

    /// <summary>Puts <paramref name="value"/> at the key's current version (asked first); once more on a conflict with another writer. Returns the acknowledged version.</summary>
    private async Task<(CheckOutcome Outcome, long? Version)> WriteAsync(string value, CancellationToken budget)
    {
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var current = await CurrentVersionAsync(budget);
                try
                {
                    var put = await _config.PutAsync(new PutRequest
                    {
                        Key = SyntheticKey,
                        Value = value,
                        ExpectedVersion = current,
                        Reason = "coherence checker: synthetic write, read back through the configuration client",
                    }, cancellationToken: budget);
                    var version = put.Entry.Version;
                    return (Outcome(CoherenceCheck.ConfigWrite, CoherenceResult.Ok, SyntheticKey, version, "acknowledged"), version);
                }
                catch (RpcException conflict) when (conflict.StatusCode == StatusCode.FailedPrecondition && attempt == 0)
                {
                    // Another checker wrote between our read and our put: once more from its version.
                }
            }
        }
        catch (RpcException error) when (budget.IsCancellationRequested || error.StatusCode == StatusCode.DeadlineExceeded)
        {
            return (Outcome(CoherenceCheck.ConfigWrite, CoherenceResult.Timeout, SyntheticKey, 0, "the budget ran out before the configuration service acknowledged the write"), null);
        }
        catch (RpcException error)
        {
            var outcome = Outcome(CoherenceCheck.ConfigWrite, CoherenceResult.Error, SyntheticKey, 0, $"the configuration service refused or failed the write ({error.StatusCode}): {error.Status.Detail}");
            LogCouldNotCheck(_logger, outcome.Check, outcome.Result, SyntheticKey, 0, outcome.Detail);
            return (outcome, null);
        }
    }

    private async Task<long> CurrentVersionAsync(CancellationToken budget)
    {
        try
        {
            var got = await _config.GetAsync(new GetRequest { Key = SyntheticKey }, cancellationToken: budget);
            return got.Entry is { Deleted: false } entry ? entry.Version : 0;
        }
        catch (RpcException never) when (never.StatusCode == StatusCode.NotFound)
        {
            return 0;
        }
    }

    /// <summary>Waits (bounded) for the client to show <paramref name="value"/> at <paramref name="version"/> or later.</summary>
    private async Task<CheckOutcome> ReadBackAsync(string value, long version, CancellationToken budget)
    {
        var deadline = _time.GetUtcNow().AddMilliseconds(CoherenceLimits.ConfigReadWaitMilliseconds);
        ConfigAnswer answer;
        while (true)
        {
            answer = _read(SyntheticKey);
            if (Shows(answer, value, version))
            {
                return Outcome(CoherenceCheck.ConfigRead, CoherenceResult.Ok, SyntheticKey, version, "seen");
            }
            if (_time.GetUtcNow() >= deadline || budget.IsCancellationRequested)
            {
                break;
            }
            try
            {
                // Real time, as the client's watch is: a frozen test clock must not stop the wait.
                await Task.Delay(CoherenceLimits.ConfigReadPollMilliseconds, budget);
            }
            catch (OperationCanceledException) when (budget.IsCancellationRequested)
            {
                break;
            }
        }
        if (budget.IsCancellationRequested && _time.GetUtcNow() < deadline)
        {
            return Outcome(CoherenceCheck.ConfigRead, CoherenceResult.Timeout, SyntheticKey, version, "the budget ran out while waiting for the configuration client");
        }
        var seen = Describe(answer);
        if (!_fresh())
        {
            var unfresh = Outcome(CoherenceCheck.ConfigRead, CoherenceResult.Error, SyntheticKey, version,
                $"the configuration client has not heard from the service within its staleness bound (it answers {seen})");
            LogCouldNotCheck(_logger, unfresh.Check, unfresh.Result, SyntheticKey, version, unfresh.Detail);
            return unfresh;
        }
        var missing = Outcome(CoherenceCheck.ConfigRead, CoherenceResult.Missing, SyntheticKey, version, string.Create(CultureInfo.InvariantCulture,
            $"the configuration service acknowledged version {version}, and the configuration client, in contact with it, answers {seen} after {CoherenceLimits.ConfigReadWaitMilliseconds} ms"));
        LogMissing(_logger, missing.Check, SyntheticKey, version, missing.Detail);
        return missing;
    }

    /// <summary>A known key: whatever it holds (a value, a deletion, never set) is fine; an answer the client had to refuse is the 2019 failure.</summary>
    private CheckOutcome ReadKnown(string key)
    {
        var answer = _read(key);
        switch (answer)
        {
            case ConfigUnknown { Reason: ConfigUnknownReason.UntrustedNotFound or ConfigUnknownReason.RevisionWentBack } refused:
                var version = refused.LastGood?.Version ?? 0;
                var missing = Outcome(CoherenceCheck.ConfigKnownRead, CoherenceResult.Missing, key, version,
                    $"the configuration service no longer shows the key the client held at version {version} ({refused.Reason}: {refused.Why}); the client keeps the last good value");
                LogMissing(_logger, missing.Check, key, version, missing.Detail);
                return missing;
            case ConfigUnknown unknown when unknown.Reason != ConfigUnknownReason.NeverSet:
                var error = Outcome(CoherenceCheck.ConfigKnownRead, CoherenceResult.Error, key, unknown.LastGood?.Version ?? 0, $"unknown ({unknown.Reason}): {unknown.Why}");
                LogCouldNotCheck(_logger, error.Check, error.Result, key, error.Partition, error.Detail);
                return error;
            default:
                return Outcome(CoherenceCheck.ConfigKnownRead, CoherenceResult.Ok, key, Version(answer), Describe(answer));
        }
    }

    private static bool Shows(ConfigAnswer answer, string value, long version) => answer switch
    {
        ConfigValue shown when shown.Version == version => shown.Text == value,
        // Another checker's later write: ours was there before it.
        ConfigValue shown => shown.Version > version,
        ConfigDeleted deleted => deleted.Version > version,
        _ => false,
    };

    private static long Version(ConfigAnswer answer) => answer switch
    {
        ConfigValue value => value.Version,
        ConfigDeleted deleted => deleted.Version,
        ConfigUnknown { LastGood: { } last } => last.Version,
        _ => 0,
    };

    private static string Describe(ConfigAnswer answer) => answer switch
    {
        ConfigValue value => string.Create(CultureInfo.InvariantCulture, $"a value at version {value.Version}"),
        ConfigDeleted deleted => string.Create(CultureInfo.InvariantCulture, $"deleted at version {deleted.Version}"),
        ConfigUnknown { Reason: ConfigUnknownReason.NeverSet } => "never set",
        ConfigUnknown unknown => string.Create(CultureInfo.InvariantCulture, $"unknown ({unknown.Reason}, last good version {unknown.LastGood?.Version ?? 0})"),
        _ => answer.GetType().Name,
    };

    /// <summary>An outcome of the configuration service: the key in the detail, its version where the partition goes for cells (an int: versions past it are shown in the detail).</summary>
    private CheckOutcome Outcome(string check, string result, string key, long version, string detail) =>
        new(Service, check, result, (int)Math.Min(version, int.MaxValue), UInt128.Zero, UInt128.Zero,
            string.Create(CultureInfo.InvariantCulture, $"key {key} version {version}: {detail}"), _time.GetUtcNow());

    [LoggerMessage(EventId = 9121, Level = LogLevel.Error,
        Message = "Coherence check {Check} of the configuration service: an acknowledged write is missing: key {Key}, version {Version}: {Detail}")]
    private static partial void LogMissing(ILogger logger, string check, string key, long version, string detail);

    [LoggerMessage(EventId = 9122, Level = LogLevel.Warning,
        Message = "Coherence check {Check} of the configuration service could not be made ({Result}): key {Key}, version {Version}: {Detail}")]
    private static partial void LogCouldNotCheck(ILogger logger, string check, string result, string key, long version, string detail);
}
