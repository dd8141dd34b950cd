using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Bulwark.Discovery.Tests.Fixtures;

/// <summary>
/// Real etcd members started by the test on free loopback ports in a temporary directory, with
/// progress notifications every second. Members can be added, removed, killed and restarted while
/// clients run. Every process started here is killed by its own handle at the end.
/// </summary>
public sealed class EtcdTestCluster : IAsyncDisposable
{
    private const int StartWaitSecondsMax = 20;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"bulwark-etcd-{Guid.NewGuid():N}");
    private readonly List<Member> _members = [];
    private readonly string _token = $"bulwark-{Guid.NewGuid():N}";

    public sealed record Member(string Name, int ClientPort, int PeerPort)
    {
        public Process? Process { get; set; }

        public Uri ClientUrl => new($"http://127.0.0.1:{ClientPort}");

        public string PeerUrl => $"http://127.0.0.1:{PeerPort}";
    }

    public IReadOnlyList<Member> Members => _members;

    public IReadOnlyList<Uri> ClientUrls => [.. _members.Select(m => m.ClientUrl)];

    public static async Task<EtcdTestCluster> StartAsync(int members)
    {
        var cluster = new EtcdTestCluster();
        Directory.CreateDirectory(cluster._directory);
        for (var i = 1; i <= members; i++)
        {
            cluster._members.Add(new Member($"m{i}", FreePort(), FreePort()));
        }
        var initial = string.Join(",", cluster._members.Select(m => $"{m.Name}={m.PeerUrl}"));
        foreach (var member in cluster._members)
        {
            cluster.Launch(member, initial, "new");
        }
        foreach (var member in cluster._members)
        {
            await WaitHealthyAsync(member);
        }
        return cluster;
    }

    /// <summary>Adds a member through the cluster API, then starts it (one at a time keeps quorum).</summary>
    public async Task<Member> AddMemberAsync()
    {
        var member = new Member($"m{_members.Count + 1}-{Guid.NewGuid():N}"[..8], FreePort(), FreePort());
        // etcd refuses to add a member until every current one has been connected for a few
        // seconds ("unhealthy cluster"); ask again for a bounded time.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await EtcdctlAsync($"member add {member.Name} --peer-urls={member.PeerUrl}");
                break;
            }
            catch (InvalidOperationException error) when (attempt < 40 && error.Message.Contains("unhealthy cluster", StringComparison.Ordinal))
            {
                await Task.Delay(250);
            }
        }
        _members.Add(member);
        var initial = string.Join(",", _members.Where(m => m.Process is not null || m == member).Select(m => $"{m.Name}={m.PeerUrl}"));
        Launch(member, initial, "existing");
        await WaitHealthyAsync(member);
        return member;
    }

    /// <summary>Removes a member through the cluster API, then stops its process.</summary>
    public async Task RemoveMemberAsync(Member member)
    {
        ArgumentNullException.ThrowIfNull(member);
        // A removal right after a leader change can time out; ask again (bounded) until the
        // member list no longer has it.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var list = await EtcdctlAsync("member list", except: member);
                var line = list.Split('\n').FirstOrDefault(l => l.Contains($", {member.Name},", StringComparison.Ordinal));
                if (line is null)
                {
                    break;
                }
                await EtcdctlAsync($"member remove {line.Split(',')[0].Trim()}", except: member);
                break;
            }
            catch (InvalidOperationException) when (attempt < 20)
            {
                await Task.Delay(500);
            }
        }
        Kill(member);
        _members.Remove(member);
    }

    /// <summary>Kills every member (SIGKILL): etcd becomes unreachable.</summary>
    public void KillAll()
    {
        foreach (var member in _members)
        {
            Kill(member);
        }
    }

    /// <summary>
    /// Stops every member with SIGSTOP: the kernel still accepts connections on their ports, but
    /// nothing answers (a hung etcd, the worst case for a client: no refusal, only silence).
    /// </summary>
    public async Task PauseAllAsync()
    {
        foreach (var member in _members.Where(m => m.Process is not null))
        {
            await SignalAsync(member.Process!.Id, "STOP");
        }
    }

    /// <summary>Lets every paused member run again (SIGCONT).</summary>
    public async Task ResumeAllAsync()
    {
        foreach (var member in _members.Where(m => m.Process is not null))
        {
            await SignalAsync(member.Process!.Id, "CONT");
        }
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <summary>Starts every member again on its data directory and ports.</summary>
    public async Task RestartAllAsync()
    {
        var initial = string.Join(",", _members.Select(m => $"{m.Name}={m.PeerUrl}"));
        foreach (var member in _members)
        {
            Launch(member, initial, "existing");
        }
        foreach (var member in _members)
        {
            await WaitHealthyAsync(member);
        }
    }

    public async Task<string> EtcdctlAsync(string arguments, Member? except = null)
    {
        var endpoints = string.Join(",", _members.Where(m => m != except && m.Process is not null).Select(m => m.ClientUrl.ToString().TrimEnd('/')));
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

    private void Launch(Member member, string initialCluster, string state)
    {
        var dataDirectory = Path.Combine(_directory, member.Name);
        var arguments = string.Join(' ',
            $"--name {member.Name} --data-dir {dataDirectory}",
            $"--listen-client-urls {member.ClientUrl.ToString().TrimEnd('/')} --advertise-client-urls {member.ClientUrl.ToString().TrimEnd('/')}",
            $"--listen-peer-urls {member.PeerUrl} --initial-advertise-peer-urls {member.PeerUrl}",
            $"--initial-cluster {initialCluster} --initial-cluster-state {state} --initial-cluster-token {_token}",
            "--heartbeat-interval 100 --election-timeout 1000 --experimental-watch-progress-notify-interval 1s",
            "--logger zap --log-outputs stderr --log-level warn");
        var info = new ProcessStartInfo("etcd", arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        var process = Process.Start(info)!;
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        member.Process = process;
    }

    private static async Task WaitHealthyAsync(Member member)
    {
        var deadline = DateTime.UtcNow.AddSeconds(StartWaitSecondsMax);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        while (DateTime.UtcNow < deadline)
        {
            if (member.Process is { HasExited: true })
            {
                throw new InvalidOperationException($"etcd member {member.Name} exited with {member.Process.ExitCode}");
            }
            try
            {
                using var response = await http.GetAsync(new Uri(member.ClientUrl, "/health"));
                var body = await response.Content.ReadAsStringAsync();
                if (response.IsSuccessStatusCode && body.Contains("true", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                // Not up yet.
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"etcd member {member.Name} not healthy after {StartWaitSecondsMax} s");
    }

    private static void Kill(Member member)
    {
        if (member.Process is { } process)
        {
            try
            {
                process.Kill();
                process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            process.Dispose();
            member.Process = null;
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        // SIGKILL ends a stopped process too; resuming first lets it exit at once.
        await ResumeAllAsync();
        KillAll();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the temporary directory is reclaimed by the system.
        }
    }
}
