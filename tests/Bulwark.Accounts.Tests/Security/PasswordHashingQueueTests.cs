using Bulwark.Platform.Security;

namespace Bulwark.Accounts.Tests.Security;

public sealed class PasswordHashingQueueTests
{
    [Fact]
    public async Task TryRun_Work_RunsOnADedicatedThreadNotThePool()
    {
        using var queue = new PasswordHashingQueue(concurrency: 1, queueMax: 4);

        Assert.True(queue.TryRun(() => Thread.CurrentThread.IsThreadPoolThread, CancellationToken.None, out var onPool));

        Assert.False(await onPool);
    }

    [Fact]
    public async Task TryRun_QueueFull_RefusedAtOnceAndTheRestStillRuns()
    {
        using var queue = new PasswordHashingQueue(concurrency: 1, queueMax: 2);
        using var release = new ManualResetEventSlim();
        using var running = new ManualResetEventSlim();
        Assert.True(queue.TryRun(() => { running.Set(); return release.Wait(TimeSpan.FromSeconds(30)); }, CancellationToken.None, out var first));
        Assert.True(running.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(queue.TryRun(() => 2, CancellationToken.None, out var second));
        Assert.True(queue.TryRun(() => 3, CancellationToken.None, out var third));

        var refused = queue.TryRun(() => 4, CancellationToken.None, out _);
        release.Set();

        Assert.False(refused);
        Assert.True(await first);
        Assert.Equal(2, await second);
        Assert.Equal(3, await third);
    }

    [Fact]
    public async Task TryRun_CancelledWhileWaiting_SkippedNotComputed()
    {
        using var queue = new PasswordHashingQueue(concurrency: 1, queueMax: 2);
        using var release = new ManualResetEventSlim();
        using var running = new ManualResetEventSlim();
        using var cancellation = new CancellationTokenSource();
        var computed = false;
        Assert.True(queue.TryRun(() => { running.Set(); return release.Wait(TimeSpan.FromSeconds(30)); }, CancellationToken.None, out var first));
        Assert.True(running.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(queue.TryRun(() => computed = true, cancellation.Token, out var abandoned));

        await cancellation.CancelAsync();
        release.Set();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        Assert.True(await first);
        Assert.False(computed);
    }

    [Fact]
    public async Task TryRun_WorkThrows_FaultsItsTaskAndTheThreadCarriesOn()
    {
        using var queue = new PasswordHashingQueue(concurrency: 1, queueMax: 2);

        Assert.True(queue.TryRun<int>(() => throw new InvalidOperationException("boom"), CancellationToken.None, out var failing));
        await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        Assert.True(queue.TryRun(() => 7, CancellationToken.None, out var next));

        Assert.Equal(7, await next);
    }
}
