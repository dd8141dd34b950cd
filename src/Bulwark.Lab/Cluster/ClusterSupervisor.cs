using System.Net;
using Microsoft.Extensions.Logging;

namespace Bulwark.Lab.Cluster;

/// <summary>
/// Does for the local cluster's service instances what Kubernetes does for pods: an instance
/// whose process exits, or that stops answering its liveness probe for a while (a hung process:
/// alive, silent), is started again on its own ports and data directory, with a back-off that
/// grows while it keeps failing. Needs nothing from etcd, so it restarts instances while etcd is
/// down — they start from their discovery snapshots. Restarts are counted in the state file and
/// <c>cluster status</c> shows running, restarting and crash-looping apart.
/// <para>
/// Commands that change the cluster (up, scale, deploy, rollback, down) hold the state lock
/// while they do; the supervisor only acts while it holds the lock too, re-reading the state
/// first, so an instance a command is stopping on purpose is never brought back. etcd members
/// and PostgreSQL are not supervised: the chaos scenarios hang and stop them deliberately, and
/// their own recovery is an operator's decision (docs/runbooks/etcd.md).
/// </para>
/// <para>
/// The event log's NATS servers are: one that exits is started again on its ports and data (it
/// rejoins the JetStream cluster and catches up from the others), at most once per
/// <see cref="NatsRestartIntervalMin"/>. Only exits: a hung server (SIGSTOP) is left alone, as the
/// chaos scenarios mean it.
/// </para>
/// </summary>
public sealed partial class ClusterSupervisor(string stateDirectory, Func<ClusterState, LocalServices> services, ILogger logger, TimeProvider time)
{
    /// <summary>How often processes are checked (exits are noticed within this).</summary>
    public static readonly TimeSpan PassInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>How often each instance's <c>/health/live</c> is asked.</summary>
    public static readonly TimeSpan LivenessInterval = TimeSpan.FromSeconds(2);

    /// <summary>The deadline of one liveness probe: generous, a busy process is not a hung one.</summary>
    public static readonly TimeSpan LivenessTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Consecutive failed liveness probes after which a running process is killed and restarted:
    /// about 10-15 s of silence. Killing a process that is only slow (a loaded machine) would turn
    /// a slowdown into an outage, so this errs on the side of waiting.
    /// </summary>
    public const int LivenessFailuresMax = 5;

    /// <summary>
    /// A process that has never answered is not probed to death before this (it may be starting:
    /// a service is live in 1-3 s, 1.5 s more when etcd is away and it starts from its snapshot).
    /// </summary>
    public static readonly TimeSpan LivenessStartGrace = TimeSpan.FromSeconds(15);

    /// <summary>Back-off before the second restart in a row; doubled for each further one, up to <see cref="BackoffMax"/>. The first restart is immediate.</summary>
    public static readonly TimeSpan BackoffInitial = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan BackoffMax = TimeSpan.FromSeconds(30);

    /// <summary>An instance that stayed up this long is healthy again: its streak of restarts ends.</summary>
    public static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(60);

    /// <summary>Restarts in a row (without staying up <see cref="StableAfter"/>) from which an instance is crash-looping.</summary>
    public const int CrashLoopStreak = 3;

    /// <summary>A NATS server that keeps exiting (its port taken, its store broken) is started at most this often.</summary>
    public static readonly TimeSpan NatsRestartIntervalMin = TimeSpan.FromSeconds(2);

    private readonly Dictionary<string, Liveness> _liveness = new(StringComparer.Ordinal);
    private readonly HttpClient _http = new(new SocketsHttpHandler { ConnectTimeout = LivenessTimeout })
    {
        Timeout = LivenessTimeout,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private sealed class Liveness
    {
        public int Pid { get; set; }

        public bool AnsweredOnce { get; set; }

        public int Failures { get; set; }

        public long LastProbeTimestamp { get; set; }
    }

    /// <summary>A decision about one instance: what is wrong with it.</summary>
    private sealed record Problem(string InstanceId, int Pid, string Reason, bool KillFirst);

    /// <summary>Supervises until cancelled, or until the cluster's state file is gone (the cluster was taken down).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        LogStarted(stateDirectory);
        while (!cancellationToken.IsCancellationRequested)
        {
            ClusterState? state;
            try
            {
                state = ClusterState.Load(stateDirectory);
            }
            catch (Exception exception) when (exception is ClusterException or IOException)
            {
                LogStateUnreadable(exception.Message);
                state = null;
            }
            if (state is null && !File.Exists(ClusterState.PathIn(stateDirectory)))
            {
                LogClusterGone();
                return;
            }
            if (state is not null)
            {
                var problems = await FindProblemsAsync(state, cancellationToken);
                if (problems.Count > 0 || NeedsBookkeeping(state) || state.NatsServers.Any(n => !LocalProcesses.IsRunning(n.Pid, stateDirectory)))
                {
                    await ActAsync(problems, cancellationToken);
                }
            }
            try
            {
                await Task.Delay(PassInterval, time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        LogStopped();
    }

    /// <summary>Processes that exited, and processes that stopped answering their liveness probe.</summary>
    private async Task<List<Problem>> FindProblemsAsync(ClusterState state, CancellationToken cancellationToken)
    {
        List<Problem> problems = [];
        foreach (var instance in state.Instances)
        {
            if (!LocalProcesses.IsRunning(instance.Pid, stateDirectory))
            {
                _liveness.Remove(instance.Id);
                problems.Add(new Problem(instance.Id, instance.Pid, "exited", KillFirst: false));
                continue;
            }
            if (await ProbeAsync(instance, cancellationToken) is { } silent)
            {
                problems.Add(new Problem(instance.Id, instance.Pid, silent, KillFirst: true));
            }
        }
        foreach (var gone in _liveness.Keys.Except(state.Instances.Select(i => i.Id), StringComparer.Ordinal).ToList())
        {
            _liveness.Remove(gone);
        }
        return problems;
    }

    /// <summary>Probes when due; returns why the process counts as hung, or null.</summary>
    private async Task<string?> ProbeAsync(InstanceState instance, CancellationToken cancellationToken)
    {
        if (!_liveness.TryGetValue(instance.Id, out var liveness) || liveness.Pid != instance.Pid)
        {
            // Probed at once: knowing early that it answered lets a later hang be judged without the start grace.
            liveness = new Liveness { Pid = instance.Pid };
            _liveness[instance.Id] = liveness;
        }
        else if (time.GetElapsedTime(liveness.LastProbeTimestamp) < LivenessInterval)
        {
            return null;
        }
        liveness.LastProbeTimestamp = time.GetTimestamp();
        var live = await IsLiveAsync(instance, cancellationToken);
        liveness.Failures = live ? 0 : liveness.Failures + 1;
        liveness.AnsweredOnce |= live;
        var mayJudge = liveness.AnsweredOnce || time.GetUtcNow() - instance.StartedAt > LivenessStartGrace;
        return mayJudge && liveness.Failures >= LivenessFailuresMax
            ? $"not live for {liveness.Failures} probes ({(LivenessInterval * liveness.Failures).TotalSeconds:0} s)"
            : null;
    }

    private async Task<bool> IsLiveAsync(InstanceState instance, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri($"http://{instance.Address}/health/live"), cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or IOException)
        {
            return false;
        }
    }

    /// <summary>True when something must be written although nothing is wrong: a streak to end, a phase to correct.</summary>
    private bool NeedsBookkeeping(ClusterState state) =>
        state.Instances.Any(instance => LocalProcesses.IsRunning(instance.Pid, stateDirectory)
            && ((instance.RestartStreak > 0 && time.GetUtcNow() - instance.StartedAt > StableAfter)
                || (instance.Phase != InstancePhase.Running && instance.RestartNotBefore is null)
                || (instance.Phase == InstancePhase.Restarting && _liveness.TryGetValue(instance.Id, out var liveness) && liveness.AnsweredOnce)));

    /// <summary>Under the state lock: re-reads the state and restarts what is still wrong (a command may have changed it meanwhile).</summary>
    private async Task ActAsync(List<Problem> problems, CancellationToken cancellationToken)
    {
        using var held = ClusterState.TryLock(stateDirectory);
        if (held is null)
        {
            // A command is changing the cluster; it may be stopping these instances on purpose.
            return;
        }
        var state = ClusterState.Load(stateDirectory);
        if (state is null)
        {
            return;
        }
        var instances = services(state);
        var now = time.GetUtcNow();
        foreach (var instance in state.Instances)
        {
            var problem = problems.FirstOrDefault(p => p.InstanceId == instance.Id && p.Pid == instance.Pid);
            if (problem is null)
            {
                Settle(instance, now);
                continue;
            }
            if (problem.KillFirst)
            {
                LogKillingHung(instance.Id, instance.Pid, problem.Reason);
                await LocalProcesses.StopAsync(instance.Pid, stateDirectory, TimeSpan.Zero, cancellationToken, signal: "KILL");
            }
            if (instance.RestartNotBefore is { } notBefore && now < notBefore)
            {
                instance.Phase = instance.RestartStreak >= CrashLoopStreak ? InstancePhase.CrashLooping : InstancePhase.Restarting;
                continue;
            }
            // An exit says why in the process's last log line: the restart reason carries it, so
            // cluster status shows a crash loop's cause without opening the log.
            var reason = !problem.KillFirst && instances.LastLogLine(instance) is { } last ? $"{problem.Reason} (its last log line: {last})" : problem.Reason;
            Restart(instances, instance, reason, now);
        }
        RestartExitedNats(state, now);
        state.Save(stateDirectory);
    }

    private void RestartExitedNats(ClusterState state, DateTimeOffset now)
    {
        foreach (var server in state.NatsServers.Where(n => !LocalProcesses.IsRunning(n.Pid, stateDirectory)))
        {
            if (server.LastRestartAt is { } last && now - last < NatsRestartIntervalMin)
            {
                continue;
            }
            var exited = server.Pid;
            try
            {
                LocalNats.Launch(stateDirectory, state, server);
            }
            catch (ClusterException exception)
            {
                LogRestartFailed(server.Name, exception.Message);
            }
            server.Restarts++;
            server.LastRestartAt = now;
            LogRestarted(server.Name, $"pid {exited} exited", server.Pid, server.Restarts, NatsRestartIntervalMin.TotalSeconds);
        }
    }

    private void Restart(LocalServices services, InstanceState instance, string reason, DateTimeOffset now)
    {
        var streak = now - instance.StartedAt > StableAfter ? 1 : instance.RestartStreak + 1;
        try
        {
            instance.Pid = services.Launch(instance);
        }
        catch (ClusterException exception)
        {
            LogRestartFailed(instance.Id, exception.Message);
        }
        instance.StartedAt = now;
        instance.Restarts++;
        instance.RestartStreak = streak;
        instance.LastRestartAt = now;
        instance.LastRestartReason = reason;
        instance.RestartNotBefore = now + Backoff(streak);
        instance.Phase = streak >= CrashLoopStreak ? InstancePhase.CrashLooping : InstancePhase.Restarting;
        _liveness.Remove(instance.Id);
        LogRestarted(instance.Id, reason, instance.Pid, instance.Restarts, Backoff(streak).TotalSeconds);
    }

    /// <summary>A process that is up: it is running once it answered, and its streak ends once it stayed up.</summary>
    private void Settle(InstanceState instance, DateTimeOffset now)
    {
        if (!LocalProcesses.IsRunning(instance.Pid, stateDirectory))
        {
            return;
        }
        var answered = _liveness.TryGetValue(instance.Id, out var liveness) && liveness.AnsweredOnce;
        if (instance.Phase != InstancePhase.Running && (answered || instance.RestartNotBefore is null))
        {
            instance.Phase = InstancePhase.Running;
        }
        if (instance.RestartStreak > 0 && now - instance.StartedAt > StableAfter)
        {
            instance.RestartStreak = 0;
            instance.RestartNotBefore = null;
        }
    }

    /// <summary>No wait before the first restart in a row; then 1 s, 2 s, 4 s ... up to 30 s.</summary>
    public static TimeSpan Backoff(int streak) =>
        streak <= 1 ? TimeSpan.Zero : TimeSpan.FromTicks(Math.Min(BackoffMax.Ticks, BackoffInitial.Ticks << Math.Min(streak - 2, 16)));

    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Supervising the cluster in {Directory}")]
    private partial void LogStarted(string directory);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "Restarted {Instance} ({Reason}): pid {Pid}, restart {Restarts}; next restart in a row waits {BackoffSeconds} s")]
    private partial void LogRestarted(string instance, string reason, int pid, int restarts, double backoffSeconds);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "Killing {Instance} (pid {Pid}): {Reason}")]
    private partial void LogKillingHung(string instance, int pid, string reason);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Error, Message = "Could not restart {Instance}: {Problem}")]
    private partial void LogRestartFailed(string instance, string problem);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Warning, Message = "Cluster state unreadable, trying again: {Problem}")]
    private partial void LogStateUnreadable(string problem);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Information, Message = "The cluster's state file is gone (cluster down): stopping")]
    private partial void LogClusterGone();

    [LoggerMessage(EventId = 7007, Level = LogLevel.Information, Message = "Supervisor stopped")]
    private partial void LogStopped();
}
