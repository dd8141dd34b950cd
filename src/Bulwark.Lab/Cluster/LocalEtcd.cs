using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Etcd.Api;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Lab.Cluster;

/// <summary>
/// The local cluster's etcd members: processes of the etcd binary on PATH, on loopback ports,
/// data under <c>STATE/data/etcd-NAME</c>, logs under <c>STATE/logs/etcd-NAME.log</c>. Members are
/// added and removed through etcd's own cluster API (MemberAdd, MemberRemove), one at a time.
/// </summary>
public static class LocalEtcd
{
    private const int HealthyWithinSecondsMax = 30;
    /// <summary>
    /// etcd refuses a membership change while a member added in the last seconds is not yet
    /// connected to all ("unhealthy cluster"); asked again every 250 ms for up to three minutes (on
    /// a loaded 2-core machine a new member took over 15 s to connect, and with the test suite's
    /// other clusters beside it the refusals went on for more than a minute).
    /// </summary>
    private const int MemberAddAttemptsMax = 720;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    public static string RequireBinary() =>
        LocalProcesses.FindOnPath("etcd")
        ?? throw new ClusterException("etcd is not on PATH: install it (Debian/Ubuntu: apt-get install etcd-server) or add its directory to PATH.");

    public static EtcdMemberState NewMember(ClusterState state)
    {
        var member = new EtcdMemberState { Name = $"etcd{state.NextMemberNumber}", ClientPort = LocalProcesses.FreePort(), PeerPort = LocalProcesses.FreePort() };
        state.NextMemberNumber++;
        return member;
    }

    /// <summary>Starts a member with the given initial cluster ("new" or "existing").</summary>
    public static void Launch(string stateDirectory, ClusterState state, EtcdMemberState member, string initialCluster, string clusterState)
    {
        var binary = RequireBinary();
        string[] arguments =
        [
            "--name", member.Name, "--data-dir", DataDirectory(stateDirectory, member),
            "--listen-client-urls", member.ClientUrl, "--advertise-client-urls", member.ClientUrl,
            "--listen-peer-urls", member.PeerUrl, "--initial-advertise-peer-urls", member.PeerUrl,
            "--initial-cluster", initialCluster, "--initial-cluster-state", clusterState,
            "--initial-cluster-token", state.EtcdToken,
            // Progress notifications every second let watchers tell a quiet watch from a stalled one (R3).
            "--experimental-watch-progress-notify-interval", "1s",
            "--heartbeat-interval", "100", "--election-timeout", "1000",
            "--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn",
        ];
        member.Pid = LocalProcesses.StartDetached(binary, arguments, LogPath(stateDirectory, member));
    }

    public static string DataDirectory(string stateDirectory, EtcdMemberState member) => Path.Combine(stateDirectory, "data", $"etcd-{member.Name}");

    public static string LogPath(string stateDirectory, EtcdMemberState member) => Path.Combine(stateDirectory, "logs", $"etcd-{member.Name}.log");

    /// <summary>Waits until the member answers /health with true; throws naming its log when it does not.</summary>
    public static async Task WaitHealthyAsync(string stateDirectory, EtcdMemberState member, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        var deadline = DateTime.UtcNow.AddSeconds(HealthyWithinSecondsMax);
        while (DateTime.UtcNow < deadline)
        {
            if (!LocalProcesses.IsRunning(member.Pid, stateDirectory))
            {
                throw new ClusterException($"etcd member {member.Name} exited at start; see {LogPath(stateDirectory, member)}");
            }
            if (await IsHealthyAsync(http, member, cancellationToken))
            {
                return;
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new ClusterException($"etcd member {member.Name} not healthy within {HealthyWithinSecondsMax} s; see {LogPath(stateDirectory, member)}");
    }

    public static async Task<bool> IsHealthyAsync(HttpClient http, EtcdMemberState member, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        try
        {
            using var response = await http.GetAsync(new Uri($"{member.ClientUrl}/health"), cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            return response.IsSuccessStatusCode && body.Contains("\"true\"", StringComparison.Ordinal);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public static EtcdCluster Connect(ClusterState state) =>
        new([.. state.Members.Select(m => new Uri(m.ClientUrl))], CallTimeout, NullLogger.Instance);

    /// <summary>
    /// Adds a member: MemberAdd through the cluster API first (etcd refuses while a member joined
    /// in the last seconds is not yet connected to all: asked again, bounded), then the process
    /// with <c>--initial-cluster-state existing</c>, then waits until it is healthy.
    /// </summary>
    public static Task<EtcdMemberState> AddAsync(string stateDirectory, ClusterState state, CancellationToken cancellationToken)
    {
        RequireBinary();
        return AddAsync(stateDirectory, state, NewMember(state), cancellationToken);
    }

    /// <summary>
    /// Adds <paramref name="member"/> (made by <see cref="NewMember"/>). A refused or unanswered
    /// MemberAdd is first looked for in the member list: a call applied whose answer was lost (a
    /// slow member past the deadline, the client asking the next one) left the peer URL a member
    /// that never started, and etcd refuses every later change as "unhealthy cluster" until it
    /// connects; such a member is taken as this one and started (a 2017 chain run once retried
    /// the refusal for its whole three minutes).
    /// </summary>
    public static async Task<EtcdMemberState> AddAsync(string stateDirectory, ClusterState state, EtcdMemberState member, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(member);
        using var cluster = Connect(state);
        IReadOnlyList<Member> members;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var added = await cluster.CallAsync(
                    (channel, options) => new Discovery.Etcd.Api.Cluster.ClusterClient(channel)
                        .MemberAddAsync(new MemberAddRequest { PeerURLs = { member.PeerUrl } }, options).ResponseAsync,
                    cancellationToken);
                members = added.Members;
                break;
            }
            catch (Exception error) when (error is RpcException or EtcdUnavailableException)
            {
                if (await MemberListAsync(cluster, cancellationToken) is { } already && already.Any(m => m.PeerURLs.Contains(member.PeerUrl)))
                {
                    members = already;
                    break;
                }
                if (attempt >= MemberAddAttemptsMax || !IsUnhealthyCluster(error))
                {
                    throw new ClusterException($"etcd refused to add a member: {(error is RpcException rpc ? rpc.Status.Detail : error.Message)}");
                }
                await Task.Delay(250, cancellationToken);
            }
        }
        // The new member's own entry has no name yet; every other member is named in the answer.
        var initialCluster = string.Join(",", members.Select(m =>
            $"{(m.PeerURLs.Contains(member.PeerUrl) ? member.Name : m.Name)}={m.PeerURLs.First()}"));
        Launch(stateDirectory, state, member, initialCluster, "existing");
        state.Members.Add(member);
        await WaitHealthyAsync(stateDirectory, member, cancellationToken);
        return member;
    }

    /// <summary>The member list, or null when no member answers.</summary>
    private static async Task<IReadOnlyList<Member>?> MemberListAsync(EtcdCluster cluster, CancellationToken cancellationToken)
    {
        try
        {
            return (await cluster.CallAsync(
                (channel, options) => new Discovery.Etcd.Api.Cluster.ClusterClient(channel).MemberListAsync(new MemberListRequest(), options).ResponseAsync,
                cancellationToken)).Members;
        }
        catch (Exception error) when (error is RpcException or EtcdUnavailableException)
        {
            return null;
        }
    }

    /// <summary>
    /// etcd's "unhealthy cluster" refusal (a member joined in the last seconds is not yet connected
    /// to all), however it reached us: an RPC error, or every member having answered it (then an
    /// <see cref="EtcdUnavailableException"/> that names it: a full chain test on a loaded machine
    /// got that one and gave up at once).
    /// </summary>
    private static bool IsUnhealthyCluster(Exception error)
    {
        for (var current = error; current is not null; current = current.InnerException)
        {
            if (current is RpcException rpc ? rpc.Status.Detail.Contains("unhealthy cluster", StringComparison.Ordinal) : current.Message.Contains("unhealthy cluster", StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Removes a member through the cluster API, then stops its process and deletes its data.</summary>
    public static async Task<string> RemoveAsync(string stateDirectory, ClusterState state, EtcdMemberState member, CancellationToken cancellationToken)
    {
        var others = new ClusterState { EtcdToken = state.EtcdToken, Members = [.. state.Members.Where(m => m != member)] };
        using (var cluster = Connect(others))
        {
            var list = await cluster.CallAsync(
                (channel, options) => new Discovery.Etcd.Api.Cluster.ClusterClient(channel).MemberListAsync(new MemberListRequest(), options).ResponseAsync,
                cancellationToken);
            var entry = list.Members.FirstOrDefault(m => m.Name == member.Name || m.PeerURLs.Contains(member.PeerUrl));
            if (entry is not null)
            {
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        await cluster.CallAsync(
                            (channel, options) => new Discovery.Etcd.Api.Cluster.ClusterClient(channel)
                                .MemberRemoveAsync(new MemberRemoveRequest { ID = entry.ID }, options).ResponseAsync,
                            cancellationToken);
                        break;
                    }
                    catch (Exception error) when (error is RpcException or EtcdUnavailableException)
                    {
                        // A remove applied whose answer was lost (the client asked the next member,
                        // which says "member not found"): gone from the list is done.
                        if (await MemberListAsync(cluster, cancellationToken) is { } now && now.All(m => m.ID != entry.ID))
                        {
                            break;
                        }
                        if (attempt < MemberAddAttemptsMax && IsUnhealthyCluster(error))
                        {
                            await Task.Delay(250, cancellationToken);
                            continue;
                        }
                        throw new ClusterException($"etcd refused to remove member {member.Name}: {error.Message}");
                    }
                }
            }
        }
        // A removed member shuts itself down; one that does not is stopped.
        var how = await LocalProcesses.StopAsync(member.Pid, stateDirectory, StopGrace, cancellationToken);
        state.Members.Remove(member);
        TryDelete(DataDirectory(stateDirectory, member));
        // Removing the leader costs an election: done means the remaining members answer again.
        foreach (var remaining in state.Members)
        {
            await WaitHealthyAsync(stateDirectory, remaining, cancellationToken);
        }
        return how == "not running" ? "exited by itself" : how;
    }

    public static Task<string> StopAsync(string stateDirectory, EtcdMemberState member, CancellationToken cancellationToken) =>
        LocalProcesses.StopAsync(member.Pid, stateDirectory, StopGrace, cancellationToken);

    /// <summary>
    /// Stops every member: the followers together, then the leader. A leader stopped while its
    /// followers are also stopping tries to hand leadership to one of them and waits seconds for
    /// an answer; once they are gone it has no one to hand over to and stops at once.
    /// </summary>
    public static async Task<IReadOnlyList<(EtcdMemberState Member, string How)>> StopAllAsync(string stateDirectory, IReadOnlyList<EtcdMemberState> members, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        var leaders = new List<EtcdMemberState>();
        foreach (var member in members)
        {
            if (await IsLeaderAsync(http, member, cancellationToken))
            {
                leaders.Add(member);
            }
        }
        var followers = members.Except(leaders).ToList();
        var results = new List<(EtcdMemberState, string)>();
        foreach (var group in new[] { followers, leaders })
        {
            results.AddRange(await Task.WhenAll(group.Select(async m => (m, await StopAsync(stateDirectory, m, cancellationToken)))));
        }
        return results;
    }

    private static async Task<bool> IsLeaderAsync(HttpClient http, EtcdMemberState member, CancellationToken cancellationToken)
    {
        try
        {
            var metrics = await http.GetStringAsync(new Uri($"{member.ClientUrl}/metrics"), cancellationToken);
            return PrometheusText.ParseGauge(metrics, "etcd_server_is_leader") == 1;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // Left for the next start to overwrite; nothing depends on it being gone.
        }
    }
}
