using System.Text.Json;
using System.Text.Json.Serialization;
using Bulwark.Storage.Postgres;

namespace Bulwark.Lab.Cluster;

/// <summary>One etcd member the local cluster started.</summary>
public sealed class EtcdMemberState
{
    public required string Name { get; init; }

    public required int ClientPort { get; init; }

    public required int PeerPort { get; init; }

    public int Pid { get; set; }

    [JsonIgnore]
    public string ClientUrl => $"http://127.0.0.1:{ClientPort}";

    [JsonIgnore]
    public string PeerUrl => $"http://127.0.0.1:{PeerPort}";
}

/// <summary>
/// One nats-server of the local cluster's event log: JetStream on, its store in
/// <c>STATE/data/nats/NAME</c>, routed to the others. Its ports are kept across restarts by the
/// supervisor; <c>cluster up</c> picks new ones (the name, and so its JetStream identity and data, stay).
/// </summary>
public sealed class NatsServerState
{
    public required string Name { get; init; }

    public required int ClientPort { get; init; }

    /// <summary>The port other servers route to (the JetStream cluster's traffic).</summary>
    public required int ClusterPort { get; init; }

    /// <summary>The HTTP monitoring port (<c>/healthz</c>, <c>/jsz</c>).</summary>
    public required int MonitorPort { get; init; }

    public int Pid { get; set; }

    /// <summary>Times the supervisor has started it again after it exited.</summary>
    public int Restarts { get; set; }

    /// <summary>When the supervisor last started it again, or null.</summary>
    public DateTimeOffset? LastRestartAt { get; set; }

    [JsonIgnore]
    public string ClientUrl => $"nats://127.0.0.1:{ClientPort}";

    [JsonIgnore]
    public string MonitorUrl => $"http://127.0.0.1:{MonitorPort}";
}

/// <summary>The desired state of one service in the local cluster.</summary>
public sealed class ServiceState
{
    public required string Name { get; init; }

    public int Replicas { get; set; }

    public required string Version { get; set; }

    /// <summary>The version before the last successful deploy: what <c>bulwark rollback</c> goes back to.</summary>
    public string? PreviousVersion { get; set; }

    /// <summary>
    /// The cells of a service split into cells (the ledger): <see cref="Replicas"/> instances per
    /// cell, each serving one (<c>serve --cell NAME</c>) and registered as SERVICE-CELL. Null for a
    /// service whose instances are all alike.
    /// </summary>
    public List<string>? Cells { get; set; }

    /// <summary>
    /// Cells the operator stopped alone (<c>bulwark scale ledger-b 0</c>, say to rebuild its store
    /// from the event log): they run no instance and their deployment record says 0 while the
    /// other cells run <see cref="Replicas"/>. <c>scale ledger-b N</c> or <c>scale ledger N</c>
    /// starts them again. Null when none is.
    /// </summary>
    public List<string>? StoppedCells { get; set; }

    /// <summary>The instances <paramref name="cell"/> runs: 0 when stopped alone, else <see cref="Replicas"/>.</summary>
    public int ReplicasOf(string cell) => StoppedCells?.Contains(cell, StringComparer.Ordinal) == true ? 0 : Replicas;

    /// <summary>The instances the service runs: <see cref="Replicas"/>, or for a service with cells the sum over its cells.</summary>
    [JsonIgnore]
    public int InstancesWanted => Cells is { } cells ? cells.Sum(ReplicasOf) : Replicas;
}

/// <summary>One running <c>bulwark serve</c> process.</summary>
public sealed class InstanceState
{
    public required string Id { get; init; }

    public required string Service { get; init; }

    public required string Version { get; init; }

    public required int Port { get; init; }

    public int? PublicPort { get; init; }

    /// <summary>The staff edge's port (staff-edge instances).</summary>
    public int? StaffPort { get; init; }

    /// <summary>The staff edge's operator gateway port (staff-edge instances): where operator commands send their calls.</summary>
    public int? OperatorPort { get; init; }

    /// <summary>The card link's port (cards instances).</summary>
    public int? LinkPort { get; init; }

    /// <summary>The cell this instance serves (the ledger's instances), or null.</summary>
    public string? Cell { get; init; }

    /// <summary>The name it registers under in discovery: the service, or SERVICE-CELL for an instance of a cell.</summary>
    [JsonIgnore]
    public string RegisteredAs => Cell is null ? Service : Bulwark.Platform.Placement.PlacementMap.ServiceOf(Cell, Service);

    public int Pid { get; set; }

    /// <summary>When the current process of this instance was started.</summary>
    public DateTimeOffset StartedAt { get; set; }

    /// <summary>Times the supervisor has started this instance again after it died or stopped answering.</summary>
    public int Restarts { get; set; }

    /// <summary>What the supervisor last saw: running, restarting (waiting out its back-off) or crash-looping.</summary>
    public string Phase { get; set; } = InstancePhase.Running;

    /// <summary>Why the supervisor last restarted it ("exited", "not live for 6 s"), or null.</summary>
    public string? LastRestartReason { get; set; }

    /// <summary>Restarts in a row without staying up a minute (the back-off grows with it).</summary>
    public int RestartStreak { get; set; }

    /// <summary>When the supervisor last restarted it.</summary>
    public DateTimeOffset? LastRestartAt { get; set; }

    /// <summary>The earliest time the supervisor may start it again (its back-off).</summary>
    public DateTimeOffset? RestartNotBefore { get; set; }

    [JsonIgnore]
    public string Address => $"127.0.0.1:{Port}";
}

/// <summary>
/// The local cluster's state file, <c>cluster.json</c> in the state directory: the etcd members,
/// the services' desired state and every process started, with its PID. <c>down</c>, <c>scale</c>
/// and <c>deploy</c> act on the processes listed here and on nothing else. Writers hold
/// <c>cluster.lock</c> so that two commands never change the cluster at once.
/// </summary>
public sealed class ClusterState
{
    public const string FileName = "cluster.json";

    /// <summary>The file holding the store URL when it has a password (mode 0600).</summary>
    public const string StoreUrlFileName = "store-url";

    public const string CardLinksFileName = "card-links";

    /// <summary>The environment variable that carries a PostgreSQL URL (with its password) to a process, never its command line.</summary>
    public const string StoreVariable = "BULWARK_STORE";
    private const string LockFileName = "cluster.lock";
    private const int LockWaitSecondsMax = 120;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    public int FormatVersion { get; init; } = 1;

    public required string EtcdToken { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    /// <summary>
    /// <c>sqlite</c>, or the postgres:// URL the ledger and the accounts keep their data in, with
    /// any password replaced by *** (this file is for display; see <see cref="StoreUrl"/>).
    /// </summary>
    public string Store { get; set; } = "sqlite";

    /// <summary>
    /// The store URL as given, password included: what the stateful instances get (through their
    /// environment, never their command line). Never written to <c>cluster.json</c>: a password is
    /// kept in <c>store-url</c> beside it, readable by its owner only (0600). Null when the state
    /// file names a password that neither that file nor <c>BULWARK_STORE</c> supplies.
    /// </summary>
    [JsonIgnore]
    public string? StoreUrl { get; set; } = "sqlite";

    [JsonIgnore]
    public bool OnPostgres => Store != "sqlite";

    /// <summary>Sets the store: the URL as given for the children, the redacted one for the state file.</summary>
    public void UseStore(string url)
    {
        StoreUrl = url;
        Store = url == "sqlite" ? url : PostgresConnections.Redact(url);
    }

    /// <summary>The PostgreSQL server the cluster runs itself (<c>--store postgres</c>), or null.</summary>
    public PostgresState? Postgres { get; set; }

    /// <summary>The supervisor's PID (0: none), started by <c>cluster up</c>, stopped first by <c>cluster down</c>.</summary>
    public int SupervisorPid { get; set; }

    /// <summary>The card scheme simulator running against the card links (outside the bank), or null.</summary>
    public SchemeState? Scheme { get; set; }

    public List<EtcdMemberState> Members { get; init; } = [];

    /// <summary>The event log's NATS servers; none in a state file from before they existed, or with <c>--nats-servers 0</c>.</summary>
    public List<NatsServerState> NatsServers { get; init; } = [];

    /// <summary>Every NATS server's client URL, comma-separated (what the services get in <c>BULWARK_EVENT_LOG</c>), or null when the cluster runs none.</summary>
    [JsonIgnore]
    public string? EventLogAddress => NatsServers.Count == 0 ? null : string.Join(",", NatsServers.Select(server => server.ClientUrl));

    public List<ServiceState> Services { get; init; } = [];

    public List<InstanceState> Instances { get; init; } = [];

    public int NextMemberNumber { get; set; } = 1;

    public int NextInstanceNumber { get; set; } = 1;

    public string RegistryAddress => "etcd://" + string.Join(",", Members.Select(m => $"127.0.0.1:{m.ClientPort}"));

    public ServiceState? Service(string name) => Services.FirstOrDefault(s => s.Name == name);

    public static string PathIn(string stateDirectory) => System.IO.Path.Combine(stateDirectory, FileName);

    /// <summary>Reads the state file; null when there is none (the cluster was never started or is down).</summary>
    public static ClusterState? Load(string stateDirectory)
    {
        var path = PathIn(stateDirectory);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            var state = JsonSerializer.Deserialize<ClusterState>(File.ReadAllBytes(path), Json)
                ?? throw new ClusterException($"{path} is empty.");
            state.StoreUrl = state.FindStoreUrl(stateDirectory);
            return state;
        }
        catch (JsonException exception)
        {
            throw new ClusterException($"{path} is not a cluster state file: {exception.Message}");
        }
    }

    /// <summary>
    /// Writes the state file atomically (write a temporary file, then rename), and beside it the
    /// store URL when it has a password (created 0600, so it is never readable by others, not even
    /// for a moment); a <c>store-url</c> left by an earlier cluster is deleted when there is none.
    /// </summary>
    public void Save(string stateDirectory)
    {
        Directory.CreateDirectory(stateDirectory);
        var path = PathIn(stateDirectory);
        var temporary = path + $".{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(this, Json));
        var secret = System.IO.Path.Combine(stateDirectory, StoreUrlFileName);
        if (StoreUrl is { } url && url != Store)
        {
            WriteOwnerOnly(secret, url);
        }
        else if (StoreUrl is not null)
        {
            File.Delete(secret);
        }
        File.Move(temporary, path, overwrite: true);
        WriteCardLinks(stateDirectory);
    }

    /// <summary>
    /// The card links the scheme may connect to, one <c>host:port</c> a line, rewritten with the
    /// state: the issuer tells the scheme its endpoints (the scheme is outside the bank and does
    /// not read the bank's etcd).
    /// </summary>
    private void WriteCardLinks(string stateDirectory)
    {
        var path = System.IO.Path.Combine(stateDirectory, CardLinksFileName);
        var lines = Instances.Where(i => i.LinkPort is not null).OrderBy(i => i.Id, StringComparer.Ordinal).Select(i => $"127.0.0.1:{i.LinkPort}\n");
        var temporary = path + $".{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, string.Concat(lines));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Writes a file only its owner can read or write, atomically (a temporary file, then rename).</summary>
    private static void WriteOwnerOnly(string path, string text)
    {
        var temporary = path + $".{Environment.ProcessId}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temporary, options))
        {
            if (!OperatingSystem.IsWindows())
            {
                // Create keeps the mode of a file that was already there (left by a crash between
                // writing and renaming): set it before the password is written into it.
                File.SetUnixFileMode(stream.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            stream.Write(System.Text.Encoding.UTF8.GetBytes(text));
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Deletes the password file (cluster down: the next up is given the URL again).</summary>
    public static void DeleteStoreUrl(string stateDirectory) => File.Delete(System.IO.Path.Combine(stateDirectory, StoreUrlFileName));

    /// <summary>
    /// The store URL with its password: the state file's own when it has none; <c>BULWARK_STORE</c>,
    /// else <c>store-url</c>, when it names the same server, user and database; a password
    /// still in the state file (written before passwords moved out of it) as it is, and
    /// <see cref="Store"/> redacted, so that the next save moves it out. Null when none supplies it.
    /// </summary>
    private string? FindStoreUrl(string stateDirectory)
    {
        if (!OnPostgres || !Uri.TryCreate(Store, UriKind.Absolute, out var uri) || !uri.UserInfo.Contains(':', StringComparison.Ordinal))
        {
            return Store;
        }
        var redacted = PostgresConnections.Redact(Store);
        if (redacted != Store)
        {
            var legacy = Store;
            Store = redacted;
            return legacy;
        }
        var secret = System.IO.Path.Combine(stateDirectory, StoreUrlFileName);
        // The variable first: an operator who sets it (a changed password) means it.
        var candidates = new[] { Environment.GetEnvironmentVariable(StoreVariable), File.Exists(secret) ? File.ReadAllText(secret).Trim() : null };
        return candidates.FirstOrDefault(url => !string.IsNullOrEmpty(url) && PostgresConnections.Redact(url) == Store);
    }

    /// <summary>
    /// Takes the state directory's lock (an exclusive open of <c>cluster.lock</c>), waiting a
    /// bounded time for another command to finish.
    /// </summary>
    /// <summary>The state lock if nobody holds it now, else null (the supervisor never waits for a command).</summary>
    public static IDisposable? TryLock(string stateDirectory)
    {
        try
        {
            return new FileStream(System.IO.Path.Combine(stateDirectory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static async Task<IDisposable> LockAsync(string stateDirectory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(stateDirectory);
        var path = System.IO.Path.Combine(stateDirectory, LockFileName);
        var deadline = DateTime.UtcNow.AddSeconds(LockWaitSecondsMax);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, cancellationToken);
            }
            catch (IOException)
            {
                throw new ClusterException($"another bulwark command holds {path} (waited {LockWaitSecondsMax} s).");
            }
        }
    }
}

/// <summary>An operating error of a cluster command: printed as one line, exit code 2.</summary>
/// <summary>The card scheme's process: the world outside the bank that sends card authorisations to every card link.</summary>
public sealed class SchemeState
{
    public int Pid { get; set; }

    /// <summary>Authorisations per second it sends.</summary>
    public int Rate { get; init; }

    /// <summary>The scheme's own directory (its card base, clearing files), outside the bank's data.</summary>
    public static string DirectoryIn(string stateDirectory) => System.IO.Path.Combine(stateDirectory, "scheme");

    /// <summary>The cards the scheme knows (the demo population written when customers are seeded).</summary>
    public static string PopulationPath(string stateDirectory) => System.IO.Path.Combine(DirectoryIn(stateDirectory), "population.json");

    public static string LogPath(string stateDirectory) => System.IO.Path.Combine(stateDirectory, "logs", "scheme.log");
}

/// <summary>What the supervisor last saw of an instance.</summary>
public static class InstancePhase
{
    public const string Running = "running";
    public const string Restarting = "restarting";
    public const string CrashLooping = "crash-looping";
}

public sealed class ClusterException(string message) : Exception(message);
