using Bulwark.Discovery.Etcd.Api;
using Bulwark.Lab.Cluster;

namespace Bulwark.Lab.Tests.Cluster;

/// <summary>The local cluster's etcd membership changes against the real etcd binary.</summary>
public sealed class LocalEtcdTests : IAsyncLifetime
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), $"bulwark-local-etcd-{Guid.NewGuid():N}");
    private readonly ClusterState _cluster = new() { EtcdToken = $"bulwark-test-{Guid.NewGuid():N}" };
    private readonly CancellationTokenSource _bound = new(TimeSpan.FromMinutes(4));

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(_state, "logs"));
        var first = LocalEtcd.NewMember(_cluster);
        LocalEtcd.Launch(_state, _cluster, first, $"{first.Name}={first.PeerUrl}", "new");
        _cluster.Members.Add(first);
        await LocalEtcd.WaitHealthyAsync(_state, first, _bound.Token);
    }

    public async Task DisposeAsync()
    {
        foreach (var member in _cluster.Members)
        {
            await LocalProcesses.StopAsync(member.Pid, _state, TimeSpan.FromSeconds(5), CancellationToken.None);
        }
        Directory.Delete(_state, recursive: true);
        _bound.Dispose();
    }

    [Fact]
    public async Task Add_MemberAddAppliedButItsAnswerLost_TakesTheUnstartedMemberAsItsOwn_AndStartsIt()
    {
        var cancellationToken = _bound.Token;
        var member = LocalEtcd.NewMember(_cluster);
        // The earlier MemberAdd reached etcd, its answer did not: the peer URL is a member that never
        // started. etcd now refuses any other change ("not enough started members" with one member,
        // "unhealthy cluster" with more) until it runs.
        using (var etcd = LocalEtcd.Connect(_cluster))
        {
            await etcd.CallAsync((channel, options) => new Discovery.Etcd.Api.Cluster.ClusterClient(channel)
                .MemberAddAsync(new MemberAddRequest { PeerURLs = { member.PeerUrl } }, options).ResponseAsync, cancellationToken);
        }

        var added = await LocalEtcd.AddAsync(_state, _cluster, member, cancellationToken);

        Assert.Same(member, added);
        Assert.Equal(2, _cluster.Members.Count);
        using var cluster = LocalEtcd.Connect(_cluster);
        var list = await cluster.CallAsync((channel, options) => new Discovery.Etcd.Api.Cluster.ClusterClient(channel)
            .MemberListAsync(new MemberListRequest(), options).ResponseAsync, cancellationToken);
        Assert.Equal(2, list.Members.Count);
        Assert.Contains(list.Members, m => m.Name == member.Name && m.PeerURLs.Contains(member.PeerUrl));
        // Both started and connected: a third member is accepted (with the orphan left behind it would be refused).
        await LocalEtcd.AddAsync(_state, _cluster, cancellationToken);
        Assert.Equal(3, _cluster.Members.Count);
    }

    [Fact]
    public async Task Add_EtcdRefusesForAReasonOfItsOwn_SaysWhy_AndStartsNothing()
    {
        var cancellationToken = _bound.Token;
        var member = LocalEtcd.NewMember(_cluster);
        var other = LocalEtcd.NewMember(_cluster);
        using (var etcd = LocalEtcd.Connect(_cluster))
        {
            // Somebody else's member that never started: with one running member, etcd has too few started to add ours.
            await etcd.CallAsync((channel, options) => new Discovery.Etcd.Api.Cluster.ClusterClient(channel)
                .MemberAddAsync(new MemberAddRequest { PeerURLs = { other.PeerUrl } }, options).ResponseAsync, cancellationToken);
        }

        var refused = await Assert.ThrowsAsync<ClusterException>(() => LocalEtcd.AddAsync(_state, _cluster, member, cancellationToken));

        Assert.StartsWith("etcd refused to add a member: ", refused.Message, StringComparison.Ordinal);
        Assert.Single(_cluster.Members);
        Assert.Equal(0, member.Pid);
    }
}
