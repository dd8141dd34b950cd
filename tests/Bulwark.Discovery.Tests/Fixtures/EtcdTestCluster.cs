using System.Diagnostics;
using System.Globalization;
using Bulwark.Lab.Cluster;

namespace Bulwark.Discovery.Tests.Fixtures;

/// <summary>
/// Real etcd members for a test, started by the lab (<see cref="LocalEtcd"/>: the same code that
/// starts the local cluster's members) on free loopback ports in a temporary directory, with
/// progress notifications every second. Members can be added, removed, killed, paused and
/// restarted while clients run. Every process is stopped by its PID at the end.
/// </summary>
public sealed class EtcdTestCluster : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"bulwark-etcd-{Guid.NewGuid():N}");
    private readonly ClusterState _state = new() { EtcdToken = $"bulwark-{Guid.NewGuid():N}", StartedAt = DateTimeOffset.UtcNow };
    private readonly List<Member> _members = [];

    /// <summary>One member as the tests see it.</summary>
    public sealed record Member(EtcdMemberState State)
    {
        public string Name => State.Name;

        public int ClientPort => State.ClientPort;

        public int PeerPort => State.PeerPort;

        public Uri ClientUrl => new(State.ClientUrl);

        public string PeerUrl => State.PeerUrl;
    }

    public IReadOnlyList<Member> Members => _members;

    public IReadOnlyList<Uri> ClientUrls => [.. _members.Select(m => m.ClientUrl)];

    public static async Task<EtcdTestCluster> StartAsync(int members)
    {
        var cluster = new EtcdTestCluster();
        Directory.CreateDirectory(cluster._directory);
        for (var i = 0; i < members; i++)
        {
            cluster._state.Members.Add(LocalEtcd.NewMember(cluster._state));
        }
        cluster._members.AddRange(cluster._state.Members.Select(m => new Member(m)));
        var initial = string.Join(",", cluster._state.Members.Select(m => $"{m.Name}={m.PeerUrl}"));
        foreach (var member in cluster._state.Members)
        {
            LocalEtcd.Launch(cluster._directory, cluster._state, member, initial, "new");
        }
        foreach (var member in cluster._state.Members)
        {
            await LocalEtcd.WaitHealthyAsync(cluster._directory, member, CancellationToken.None);
        }
        return cluster;
    }

    /// <summary>Adds a member through the cluster API, then starts it (one at a time keeps quorum).</summary>
    public async Task<Member> AddMemberAsync()
    {
        var added = new Member(await LocalEtcd.AddAsync(_directory, _state, CancellationToken.None));
        _members.Add(added);
        return added;
    }

    /// <summary>Removes a member through the cluster API, then stops its process.</summary>
    public async Task RemoveMemberAsync(Member member)
    {
        ArgumentNullException.ThrowIfNull(member);
        await LocalEtcd.RemoveAsync(_directory, _state, member.State, CancellationToken.None);
        _members.Remove(member);
    }

    /// <summary>Kills every member (SIGKILL): etcd becomes unreachable.</summary>
    public void KillAll()
    {
        foreach (var member in _state.Members)
        {
            LocalProcesses.StopAsync(member.Pid, _directory, TimeSpan.Zero, CancellationToken.None, signal: "KILL").GetAwaiter().GetResult();
        }
    }

    /// <summary>Starts every member again on its data directory and ports.</summary>
    public async Task RestartAllAsync()
    {
        var initial = string.Join(",", _state.Members.Select(m => $"{m.Name}={m.PeerUrl}"));
        foreach (var member in _state.Members)
        {
            LocalEtcd.Launch(_directory, _state, member, initial, "existing");
        }
        foreach (var member in _state.Members)
        {
            await LocalEtcd.WaitHealthyAsync(_directory, member, CancellationToken.None);
        }
    }

    /// <summary>
    /// Stops every member with SIGSTOP: the kernel still accepts connections on their ports, but
    /// nothing answers (a hung etcd, the worst case for a client: no refusal, only silence).
    /// </summary>
    public async Task PauseAllAsync()
    {
        foreach (var member in _state.Members)
        {
            await SignalAsync(member.Pid, "STOP");
        }
    }

    /// <summary>Lets every paused member run again (SIGCONT).</summary>
    public async Task ResumeAllAsync()
    {
        foreach (var member in _state.Members)
        {
            await SignalAsync(member.Pid, "CONT");
        }
    }

    private async Task SignalAsync(int pid, string signal)
    {
        if (!LocalProcesses.IsRunning(pid, _directory))
        {
            return;
        }
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public async Task<string> EtcdctlAsync(string arguments, Member? except = null)
    {
        var endpoints = string.Join(",", _members.Where(m => m != except && LocalProcesses.IsRunning(m.State.Pid, _directory)).Select(m => m.State.ClientUrl));
        var info = new ProcessStartInfo("etcdctl", $"--endpoints={endpoints} --command-timeout=5s {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["ETCDCTL_API"] = "3";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"etcdctl {arguments} failed: {await error}");
        }
        return await output;
    }

    /// <summary>A free loopback port, chosen as the lab chooses them (outside the kernel's ephemeral range).</summary>
    public static int FreePort() => LocalProcesses.FreePort();

    public async ValueTask DisposeAsync()
    {
        // SIGKILL ends a stopped process too; resuming first lets it exit at once.
        await ResumeAllAsync();
        KillAll();
        LocalEtcd.TryDelete(_directory);
    }
}
