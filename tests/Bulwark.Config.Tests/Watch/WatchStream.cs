using Bulwark.Config.Protos;
using Grpc.Core;

namespace Bulwark.Config.Tests.Watch;

/// <summary>A watch call under test, read one event at a time; every read is bounded.</summary>
public sealed class WatchStream : IDisposable
{
    /// <summary>Generous: a bound for a stuck stream on a loaded machine, never a timing assert.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly AsyncServerStreamingCall<WatchEvent> _call;

    public WatchStream(Protos.Config.ConfigClient client, WatchRequest request)
    {
        ArgumentNullException.ThrowIfNull(client);
        _call = client.Watch(request, deadline: DateTime.UtcNow + TimeSpan.FromMinutes(2));
    }

    /// <summary>The next event (bounded by <see cref="Bound"/>); fails when the stream ends.</summary>
    public async Task<WatchEvent> NextAsync()
    {
        using var bound = new CancellationTokenSource(Bound);
        Assert.True(await _call.ResponseStream.MoveNext(bound.Token), "the watch ended");
        return _call.ResponseStream.Current;
    }

    /// <summary>The next event that is not a progress event.</summary>
    public async Task<WatchEvent> NextChangeAsync()
    {
        while (true)
        {
            var next = await NextAsync();
            if (next.Kind != WatchEventKind.Progress)
            {
                return next;
            }
        }
    }

    /// <summary>Reads until the stream fails, and returns the failure (bounded).</summary>
    public async Task<RpcException> FailureAsync()
    {
        using var bound = new CancellationTokenSource(Bound);
        return await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await _call.ResponseStream.MoveNext(bound.Token))
            {
            }
        });
    }

    public void Dispose() => _call.Dispose();
}
