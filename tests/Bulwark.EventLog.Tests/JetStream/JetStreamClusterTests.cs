using Bulwark.EventLog.JetStream;
using Bulwark.EventLog.Tests.Fixtures;

namespace Bulwark.EventLog.Tests.JetStream;

/// <summary>The cluster's shape: three nats-servers, the stream at three replicas, one server lost.</summary>
public sealed class JetStreamClusterTests : IDisposable
{
    private readonly IReadOnlyList<NatsServer> _servers = NatsServer.StartCluster(3);

    [Fact]
    public async Task Append_ThreeReplicasWithOneServerKilled_KeepsAcceptingAndEveryRecordReadsBackOnce()
    {
        var options = new JetStreamEventLogOptions
        {
            Url = string.Join(",", _servers.Select(s => s.Url)),
            Bank = "cluster",
            Replicas = 3,
        };
        // The cluster elects its JetStream leader after the servers are up: retried while it does.
        await using var log = await RetryAsync(() => JetStreamEventLog.OpenAsync(options));
        await RetryAsync(() => log.AppendAsync([.. Records.Range(1, 1, 20), .. Records.Range(2, 1, 20)]));

        _servers[2].Stop();
        var more = await RetryAsync(() => log.AppendAsync([.. Records.Range(1, 21, 40), .. Records.Range(2, 1, 25)]));

        // 20 new in partition 1, 20 repeats and 5 new in partition 2 (a retry after a partial
        // publish turns some new ones into repeats; the total is the same).
        Assert.Equal(45, more.Appended + more.Duplicates);
        Assert.Equal(40, await RetryAsync(() => log.GetLastSequenceAsync(1)));
        Assert.Equal(25, await RetryAsync(() => log.GetLastSequenceAsync(2)));
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), (await RetryAsync(() => log.ReadAsync(1).ReadAllAsync())).Select(r => r.Sequence));
        Assert.Equal(Enumerable.Range(1, 25).Select(i => (long)i), (await RetryAsync(() => log.ReadAsync(2).ReadAllAsync())).Select(r => r.Sequence));
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> operation)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await operation();
            }
            catch (EventLogException error) when (error.Error == EventLogError.Unavailable && attempt < 60)
            {
                await Task.Delay(500);
            }
        }
    }

    public void Dispose()
    {
        foreach (var server in _servers)
        {
            server.Dispose();
        }
    }
}
