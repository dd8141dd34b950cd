using System.Data.Common;
using System.Globalization;
using Bulwark.Config.Identity;
using Bulwark.Config.Protos;
using Bulwark.Config.Storage;
using Bulwark.Config.Telemetry;
using Bulwark.Config.Validation;
using Bulwark.Config.Watch;
using Bulwark.Storage.Sqlite;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Config.Grpc;

/// <summary>
/// The configuration service's gRPC contract (config.proto). Every request is validated field by
/// field before the store is touched. The three answers are never confused (R14): a value, a
/// tombstone (<c>entry.deleted</c>), and NOT_FOUND only for a key the store has never held; a
/// store that cannot be reached is UNAVAILABLE, never NOT_FOUND.
/// </summary>
internal sealed partial class ConfigGrpcService(
    IConfigStore store,
    ConfigChangeSignal signal,
    ICallerIdentity identity,
    ConfigMetrics metrics,
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<ConfigGrpcService> logger) : Protos.Config.ConfigBase
{
    /// <summary>The trailer a FAILED_PRECONDITION carries with the key's current version, for tools that compare it with their own.</summary>
    public const string CurrentVersionTrailer = "bulwark-current-version";

    public override Task<GetResponse> Get(GetRequest request, ServerCallContext context) => GuardAsync(async () =>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var key = Key(request.Key, "key");
        var read = await store.GetAsync(key, context.CancellationToken);
        metrics.ObserveRevision(read.Revision);
        var latest = read.Latest ?? throw NeverHeld(key);
        return new GetResponse { Entry = ToProto(latest), Revision = read.Revision };
    });

    public override Task<ListResponse> List(ListRequest request, ServerCallContext context) => GuardAsync(async () =>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        Prefix(request.Prefix, "prefix");
        Prefix(request.AfterKey, "after_key");
        var limit = Limit(request.Limit, "limit", ConfigLimits.ListLimitDefault, ConfigLimits.ListLimitMax);
        NotNegative(request.AtRevision, "at_revision");
        var page = await store.ListAsync(request.Prefix, request.AfterKey, limit, request.AtRevision, context.CancellationToken);
        if (page.Compacted)
        {
            throw ConfigErrors.OutOfRange(string.Create(CultureInfo.InvariantCulture,
                $"at_revision {request.AtRevision} is below the compacted revision {page.State.CompactedRevision}: its snapshot is gone; list again from the first page with at_revision 0."));
        }
        if (page.Ahead)
        {
            throw ConfigErrors.Invalid("at_revision", string.Create(CultureInfo.InvariantCulture, $"is {request.AtRevision}, above the store's revision {page.State.Revision}."));
        }
        metrics.ObserveRevision(page.State.Revision);
        var response = new ListResponse { Revision = page.Revision, More = page.More };
        response.Entries.AddRange(page.Entries.Select(ToProto));
        return response;
    });

    public override Task<PutResponse> Put(PutRequest request, ServerCallContext context) => GuardAsync(async () =>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var key = Key(request.Key, "key");
        var bytes = ConfigFields.ValueBytes(request.Value);
        if (bytes > ConfigLimits.ValueBytesMax)
        {
            throw ConfigErrors.ResourceExhausted(string.Create(CultureInfo.InvariantCulture,
                $"value is {bytes} bytes of UTF-8; at most {ConfigLimits.ValueBytesMax} (64 KiB) are allowed."));
        }
        Reason(request.Reason);
        NotNegative(request.ExpectedVersion, "expected_version");
        var actor = identity.Actor(context);
        var result = await store.PutAsync(key, request.Value, request.ExpectedVersion, actor, request.Reason, Now(), context.CancellationToken);
        var change = Committed(result, key, request.ExpectedVersion);
        LogChanged(key, change.Revision, "set", actor);
        return new PutResponse { Entry = ToProto(change) };
    });

    public override Task<DeleteResponse> Delete(DeleteRequest request, ServerCallContext context) => GuardAsync(async () =>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var key = Key(request.Key, "key");
        Reason(request.Reason);
        NotNegative(request.ExpectedVersion, "expected_version");
        var actor = identity.Actor(context);
        var result = await store.DeleteAsync(key, request.ExpectedVersion, actor, request.Reason, Now(), context.CancellationToken);
        var change = Committed(result, key, request.ExpectedVersion);
        LogChanged(key, change.Revision, "deleted", actor);
        return new DeleteResponse { Entry = ToProto(change) };
    });

    public override Task<HistoryResponse> History(HistoryRequest request, ServerCallContext context) => GuardAsync(async () =>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var key = Key(request.Key, "key");
        NotNegative(request.BeforeRevision, "before_revision");
        var limit = Limit(request.Limit, "limit", ConfigLimits.HistoryLimitDefault, ConfigLimits.HistoryLimitMax);
        var page = await store.HistoryAsync(key, request.BeforeRevision, limit, context.CancellationToken);
        if (!page.EverHeld)
        {
            throw NeverHeld(key);
        }
        var response = new HistoryResponse { CompactedRevision = page.CompactedRevision, More = page.More };
        response.Changes.AddRange(page.Changes.Select(ToProto));
        return response;
    });

    public override Task<CompactResponse> Compact(CompactRequest request, ServerCallContext context) => GuardAsync(async () =>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        if (request.Revision <= 0)
        {
            throw ConfigErrors.Invalid("revision", "must be a positive revision: history at and below it is compacted.");
        }
        var compaction = await store.CompactAsync(request.Revision, context.CancellationToken);
        if (compaction.AboveRevision)
        {
            throw ConfigErrors.Invalid("revision", string.Create(CultureInfo.InvariantCulture, $"is {request.Revision}, above the store's revision {compaction.Revision}."));
        }
        LogCompacted(compaction.CompactedRevision, compaction.Removed);
        return new CompactResponse { CompactedRevision = compaction.CompactedRevision, Removed = compaction.Removed };
    });

    public override async Task Watch(WatchRequest request, IServerStreamWriter<WatchEvent> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        Prefix(request.Prefix, "prefix");
        NotNegative(request.FromRevision, "from_revision");
        if (request.ProgressIntervalMs != 0 && request.ProgressIntervalMs is < ConfigLimits.ProgressIntervalMillisecondsMin or > ConfigLimits.ProgressIntervalMillisecondsMax)
        {
            throw ConfigErrors.Invalid("progress_interval_ms", string.Create(CultureInfo.InvariantCulture,
                $"must be 0 (the default, {ConfigLimits.ProgressIntervalMillisecondsDefault}) or {ConfigLimits.ProgressIntervalMillisecondsMin} to {ConfigLimits.ProgressIntervalMillisecondsMax}, not {request.ProgressIntervalMs}."));
        }
        // A stopping instance ends its watches, so that their watchers resume on another one.
        using var call = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        metrics.WatchStarted();
        try
        {
            await GuardAsync(() => services.GetRequiredService<ConfigWatchSession>().RunAsync(request, responseStream, call.Token));
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw ConfigErrors.Unavailable("this configuration instance is stopping; watch again from the last revision you received.");
        }
        finally
        {
            metrics.WatchStopped();
        }
    }

    /// <summary>An entry of the contract from a stored change.</summary>
    internal static Entry ToProto(ConfigChange change) => new()
    {
        Key = change.Key,
        Value = change.Value,
        Version = change.Revision,
        Deleted = change.Deleted,
        ChangedAtMs = change.ChangedAtUnixMs,
        ChangedBy = change.ChangedBy,
        Reason = change.Reason,
    };

    /// <summary>The committed change of a write, or the refusal the contract names: NOT_FOUND for a key never held, else FAILED_PRECONDITION with the current version.</summary>
    private ConfigChange Committed(ConfigWriteResult result, string key, long expected)
    {
        switch (result.Outcome)
        {
            case ConfigWriteOutcome.Written:
                var change = result.Change!;
                metrics.ObserveRevision(change.Revision);
                signal.Notify();
                return change;
            case ConfigWriteOutcome.NeverHeld:
                throw NeverHeld(key);
            default:
                var current = result.Current;
                var version = current?.Revision ?? 0;
                var message = (result.Outcome, current) switch
                {
                    (ConfigWriteOutcome.AlreadyDeleted, _) => $"key '{key}' is already deleted: its current version is {version}, a tombstone.",
                    (_, null) => $"key '{key}' has never been held: its current version is 0, not {expected}; set it with expected_version 0.",
                    (_, { Deleted: true }) => $"key '{key}' was deleted: its current version is {version}, a tombstone, not {expected}; set it with expected_version 0 or {version}.",
                    _ when expected == 0 => $"key '{key}' already holds a value: its current version is {version}, and expected_version 0 requires that it hold none.",
                    _ => $"key '{key}' has changed: its current version is {version}, not {expected}. Read it again before changing it.",
                };
                throw new RpcException(new Status(StatusCode.FailedPrecondition, message),
                    new Metadata { { CurrentVersionTrailer, version.ToString(CultureInfo.InvariantCulture) } });
        }
    }

    private static RpcException NeverHeld(string key) => ConfigErrors.NotFound($"The configuration store has never held key '{key}'.");

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private static string Key(string key, string field) => ConfigFields.KeyProblem(key) is { } problem ? throw ConfigErrors.Invalid(field, problem) : key;

    private static void Prefix(string prefix, string field)
    {
        if (ConfigFields.PrefixProblem(prefix) is { } problem)
        {
            throw ConfigErrors.Invalid(field, problem);
        }
    }

    private static void Reason(string reason)
    {
        if (ConfigFields.ReasonProblem(reason) is { } problem)
        {
            throw ConfigErrors.Invalid("reason", problem);
        }
    }

    private static void NotNegative(long value, string field)
    {
        if (value < 0)
        {
            throw ConfigErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must not be negative, not {value}."));
        }
    }

    private static int Limit(int limit, string field, int defaultLimit, int max) => limit switch
    {
        0 => defaultLimit,
        >= 1 when limit <= max => limit,
        _ => throw ConfigErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be 0 (the default, {defaultLimit}) or 1 to {max}, not {limit}.")),
    };

    /// <summary>
    /// Runs a call, answering UNAVAILABLE when the store cannot be reached or fails: a consumer
    /// must hear "unavailable", which it may retry and ride out on its last good values, never
    /// anything it could take for "not found" (R14).
    /// </summary>
    private async Task<T> GuardAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception error) when (IsStoreFailure(error))
        {
            LogStoreFailed(error.GetBaseException().Message);
            throw ConfigErrors.Unavailable($"the configuration store is unavailable: {error.GetBaseException().Message}");
        }
    }

    private Task GuardAsync(Func<Task> call) => GuardAsync(async () =>
    {
        await call();
        return true;
    });

    private static bool IsStoreFailure(Exception error) =>
        error is DbException or StorageOpenException or TimeoutException;

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Configuration key {Key} {Action} at revision {Revision} by {Actor}")]
    private partial void LogChanged(string key, long revision, string action, string actor);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Configuration history compacted at revision {Revision}: {Removed} change(s) removed")]
    private partial void LogCompacted(long revision, long removed);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "The configuration store failed a call: {Reason}")]
    private partial void LogStoreFailed(string reason);
}
