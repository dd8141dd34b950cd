using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using static Bulwark.Cli.Tests.TestPorts;

namespace Bulwark.Cli.Tests;

/// <summary><c>bulwark serve</c> as a real child process: bad input, unreachable etcd, SIGTERM.</summary>
public sealed class ServeProcessTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(1);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-serve-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("nope", "etcd://127.0.0.1:2379", "unknown service 'nope'. Known services: ledger, accounts, support, feed, config, cards, edge, staff-edge, coherence.")]
    [InlineData("ledger", "http://127.0.0.1:2379", "bad --registry: A registry address starts with etcd://")]
    [InlineData("ledger", "etcd://127.0.0.1:99999", "bad --registry: '127.0.0.1:99999'")]
    [InlineData("ledger", "etcd://", "bad --registry: '' in 'etcd://'")]
    public async Task Serve_BadInput_ExitsTwoWithOneClearLine(string service, string registry, string expected)
    {
        var (exitCode, error) = await RunToEndAsync("serve", "--service", service, "--registry", registry, "--data", _directory);

        Assert.Equal(2, exitCode);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_StoreNotAPostgresUrl_ExitsTwoNamingTheOption()
    {
        var (exitCode, error) = await RunToEndAsync("serve", "--service", "ledger", "--registry", "etcd://127.0.0.1:2379", "--data", _directory, "--store", "mysql://root@localhost/bank");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("--store:", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:4222", "bulwark serve: --event-log: 'http://127.0.0.1:4222' is not a NATS server address (expected nats://HOST:PORT, as in nats://127.0.0.1:4222).")]
    [InlineData("nats://127.0.0.1:4222,nats://127.0.0.1", "bulwark serve: --event-log: 'nats://127.0.0.1' is not a NATS server address")]
    [InlineData("", "bulwark serve: --event-log: no NATS server given")]
    public async Task Serve_EventLogMalformed_ExitsTwoNamingTheOption(string eventLog, string expected)
    {
        var (exitCode, error) = await RunToEndAsync("serve", "--service", "ledger", "--registry", "etcd://127.0.0.1:2379", "--data", _directory, "--event-log", eventLog);

        Assert.Equal(2, exitCode);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_EventLogVariableMalformed_ExitsTwoNamingIt_TheOptionWins()
    {
        var variable = new Dictionary<string, string> { ["BULWARK_EVENT_LOG"] = "nats://127.0.0.1:notaport" };
        var fromVariable = await BulwarkProcess.RunAsync(variable, "serve", "--service", "ledger", "--registry", "etcd://127.0.0.1:1", "--data", _directory);
        var optionWins = await BulwarkProcess.RunAsync(variable, "serve", "--service", "ledger", "--registry", "etcd://127.0.0.1:1", "--data", _directory, "--event-log", "nats://127.0.0.1:4222");

        Assert.Equal(2, fromVariable.ExitCode);
        Assert.Contains("bulwark serve: BULWARK_EVENT_LOG: 'nats://127.0.0.1:notaport' is not a NATS server address", fromVariable.Error, StringComparison.Ordinal);
        // Past the event log, it stops at etcd (unreachable here) instead.
        Assert.Equal(2, optionWins.ExitCode);
        Assert.DoesNotContain("BULWARK_EVENT_LOG", optionWins.Error, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:1", optionWins.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_EtcdUnreachableNoSnapshot_ExitsTwoNamingMembersAndSnapshotPath()
    {
        var port = FreePort();

        var (exitCode, error) = await RunToEndAsync("serve", "--service", "feed", "--registry", $"etcd://127.0.0.1:{port}", "--data", _directory);

        Assert.Equal(2, exitCode);
        Assert.Contains($"tried http://127.0.0.1:{port}/", error, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_directory, "discovery-feed.json"), error, StringComparison.Ordinal);
    }

    /// <summary>
    /// R5 for every role, as the 2017 chain's last step would test it: etcd hung (its port accepts
    /// connections, nothing ever answers), the process restarted with a snapshot on disk. It starts
    /// from the snapshot, says so, and serves — instead of crashing as it did before.
    /// </summary>
    [Theory]
    [InlineData("ledger")]
    [InlineData("accounts")]
    [InlineData("support")]
    [InlineData("feed")]
    [InlineData("cards")]
    [InlineData("edge")]
    public async Task Serve_EtcdHung_StartsFromSnapshotAndServes(string service)
    {
        using var hungEtcd = new TcpListener(IPAddress.Loopback, 0);
        hungEtcd.Start(); // Never accepted by us: the kernel completes the handshake, nothing answers.
        var data = Path.Combine(_directory, service);
        var snapshot = Path.Combine(data, $"discovery-{service}.json");
        Bulwark.Discovery.Etcd.Discovery.DiscoverySnapshot.Save(snapshot,
            [new Bulwark.Platform.Registry.ServiceView("ledger", [new("ledger", "ledger-1", $"127.0.0.1:{FreePort()}", "v1")], 42, Authoritative: true)],
            42, DateTimeOffset.UtcNow);
        SavePlacementSnapshot(data, service);
        var port = FreePort();
        var clock = Stopwatch.StartNew();
        using var serve = Start("serve", "--service", service, "--registry", $"etcd://127.0.0.1:{((IPEndPoint)hungEtcd.LocalEndpoint).Port}",
            "--data", data, "--port", port.ToString(CultureInfo.InvariantCulture), "--public-port", FreePort().ToString(CultureInfo.InvariantCulture));
        try
        {
            var ready = await ReadUntilAsync(serve, line => line.Contains(" ready, ", StringComparison.Ordinal));
            clock.Stop();
            Assert.Contains("routing on the discovery snapshot until etcd answers", ready, StringComparison.Ordinal);
            using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
            var health = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
            Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
            // The whole process start (runtime, stores, keys) with etcd hung; logged for the record, bounded generously.
            Console.WriteLine($"serve {service} with etcd hung: ready after {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"{service} took {clock.Elapsed} to become ready");
        }
        finally
        {
            serve.Kill();
            await serve.WaitForExitAsync();
        }
    }

    /// <summary>
    /// The placement map the process last read from etcd, as it keeps it beside its discovery
    /// snapshot: the ledger cannot start without one while etcd does not answer (it would not know
    /// its cell's partitions); the others route the ledger's calls by it.
    /// </summary>
    private static void SavePlacementSnapshot(string data, string service)
    {
        Directory.CreateDirectory(data);
        var map = Bulwark.Platform.Placement.PlacementMap.CreateInitial(Guid.NewGuid().ToString("D"), Bulwark.Ledger.LedgerLimits.PartitionCountDefault, ["a"]);
        File.WriteAllBytes(Path.Combine(data, $"placement-{service}.json"), Bulwark.Platform.Placement.PlacementMapCodec.Encode(map));
    }

    /// <summary>What one service creates under its --data is private: directories 0700, files 0600 (the databases' -wal and -shm, the keys).</summary>
    [Theory]
    [InlineData("ledger")]
    [InlineData("accounts")]
    [InlineData("support")]
    [InlineData("edge")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Serve_EverythingItCreatesUnderData_IsPrivate(string service)
    {
        using var hungEtcd = new TcpListener(IPAddress.Loopback, 0);
        hungEtcd.Start();
        var data = Path.Combine(_directory, service);
        var snapshot = Path.Combine(data, $"discovery-{service}.json");
        // Written by the test, so not what serve creates: left out of the check.
        Bulwark.Discovery.Etcd.Discovery.DiscoverySnapshot.Save(snapshot,
            [new Bulwark.Platform.Registry.ServiceView("ledger", [new("ledger", "ledger-1", $"127.0.0.1:{FreePort()}", "v1")], 42, Authoritative: true)],
            42, DateTimeOffset.UtcNow);
        SavePlacementSnapshot(data, service);
        var before = Directory.EnumerateFileSystemEntries(data, "*", SearchOption.AllDirectories).ToHashSet();
        using var serve = Start("serve", "--service", service, "--registry", $"etcd://127.0.0.1:{((IPEndPoint)hungEtcd.LocalEndpoint).Port}",
            "--data", data, "--port", FreePort().ToString(CultureInfo.InvariantCulture), "--public-port", FreePort().ToString(CultureInfo.InvariantCulture));
        List<(string Path, UnixFileMode Mode)> created;
        try
        {
            await ReadUntilAsync(serve, line => line.Contains(" ready, ", StringComparison.Ordinal));
            created = [.. Directory.EnumerateFileSystemEntries(data, "*", SearchOption.AllDirectories)
                .Where(path => !before.Contains(path))
                .Select(path => (path, File.GetUnixFileMode(path)))];
        }
        finally
        {
            serve.Kill();
            await serve.WaitForExitAsync();
        }

        Assert.NotEmpty(created);
        foreach (var (path, mode) in created)
        {
            var expected = Directory.Exists(path) ? Bulwark.Platform.Security.PrivateFiles.DirectoryMode : Bulwark.Platform.Security.PrivateFiles.FileMode;
            Assert.True(mode == expected, $"{path} has mode {Convert.ToString((int)mode, 8)}, expected {Convert.ToString((int)expected, 8)}");
        }
    }

    [Fact]
    public async Task Serve_Sigterm_DeregistersThenExitsZero()
    {
        var clientPort = FreePort();
        var peerPort = FreePort();
        using var etcd = Process.Start(new ProcessStartInfo("etcd",
            $"--name t --data-dir {Path.Combine(_directory, "etcd")} --listen-client-urls http://127.0.0.1:{clientPort} --advertise-client-urls http://127.0.0.1:{clientPort} --listen-peer-urls http://127.0.0.1:{peerPort} --initial-advertise-peer-urls http://127.0.0.1:{peerPort} --initial-cluster t=http://127.0.0.1:{peerPort} --log-level error --logger zap")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        etcd.BeginErrorReadLine();
        etcd.BeginOutputReadLine();
        try
        {
            using var serve = Start("serve", "--service", "feed", "--registry", $"etcd://127.0.0.1:{clientPort}", "--data", Path.Combine(_directory, "feed"));
            try
            {
                await ReadUntilAsync(serve, line => line.Contains("registered in etcd", StringComparison.Ordinal));
                Assert.Contains("/bulwark/services/feed/", await EtcdctlAsync(clientPort), StringComparison.Ordinal);

                using (var term = Process.Start("kill", ["-TERM", serve.Id.ToString(CultureInfo.InvariantCulture)]))
                {
                    await term.WaitForExitAsync();
                }
                await ReadUntilAsync(serve, line => line.Contains("deregistered, drained and stopped", StringComparison.Ordinal));
                using var exited = new CancellationTokenSource(Bound);
                await serve.WaitForExitAsync(exited.Token);
            }
            finally
            {
                if (!serve.HasExited)
                {
                    serve.Kill();
                }
            }

            Assert.Equal(0, serve.ExitCode);
            Assert.DoesNotContain("/bulwark/services/feed/", await EtcdctlAsync(clientPort), StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(_directory, "feed", "discovery-feed.json")));
        }
        finally
        {
            etcd.Kill();
            await etcd.WaitForExitAsync();
        }
    }

    private static async Task<string> EtcdctlAsync(int port)
    {
        var info = new ProcessStartInfo("etcdctl", $"--endpoints=127.0.0.1:{port} get --prefix /bulwark/ --keys-only")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["ETCDCTL_API"] = "3";
        using var process = Process.Start(info)!;
        using var bound = new CancellationTokenSource(Bound);
        var output = await process.StandardOutput.ReadToEndAsync(bound.Token);
        await process.WaitForExitAsync(bound.Token);
        return output;
    }

    private static async Task<(int ExitCode, string Error)> RunToEndAsync(params string[] args)
    {
        using var process = Start(args);
        using var bound = new CancellationTokenSource(Bound);
        var error = process.StandardError.ReadToEndAsync(bound.Token);
        _ = process.StandardOutput.ReadToEndAsync(bound.Token);
        await process.WaitForExitAsync(bound.Token);
        return (process.ExitCode, await error);
    }

    private static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "bulwark.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Operator commands act as the bank's demo staff member (OperatorStaff).
        foreach (var (name, value) in OperatorStaff.EnvironmentAsync(null, args).GetAwaiter().GetResult() ?? [])
        {
            start.Environment[name] = value;
        }
        return Process.Start(start) ?? throw new InvalidOperationException("could not start bulwark");
    }

    private static async Task<string> ReadUntilAsync(Process process, Func<string, bool> done)
    {
        using var bound = new CancellationTokenSource(Bound);
        var lines = new List<string>();
        while (await process.StandardOutput.ReadLineAsync(bound.Token) is { } line)
        {
            lines.Add(line);
            if (done(line))
            {
                return line;
            }
        }
        Assert.Fail("bulwark serve ended its output early:\n" + string.Join('\n', lines) + "\n" + await process.StandardError.ReadToEndAsync(bound.Token));
        return "";
    }
}
