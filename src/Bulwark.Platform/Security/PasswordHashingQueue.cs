using System.Collections.Concurrent;

namespace Bulwark.Platform.Security;

/// <summary>
/// Runs password hashing (a deliberately slow, CPU-bound computation: PBKDF2 at 210,000 iterations
/// takes about 0.2 s of one core) on a few dedicated threads, never on the thread pool.
/// A login flood therefore occupies at most <see cref="Concurrency"/> cores and no thread-pool
/// thread, and the card authorisations sharing the process keep their threads and the other cores.
/// At most <see cref="QueueMax"/> requests wait; beyond that <see cref="TryRun{T}"/> refuses at
/// once, and the caller answers "busy, retry later" instead of queueing work nobody will wait for.
/// </summary>
public sealed class PasswordHashingQueue : IDisposable
{
    private readonly BlockingCollection<WorkItem> _waiting;
    private readonly Thread[] _workers;
    private volatile bool _stopping;

    public PasswordHashingQueue(int concurrency, int queueMax)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueMax, 1);
        Concurrency = concurrency;
        QueueMax = queueMax;
        _waiting = new BlockingCollection<WorkItem>(new ConcurrentQueue<WorkItem>(), queueMax);
        _workers = new Thread[concurrency];
        for (var index = 0; index < concurrency; index++)
        {
            _workers[index] = new Thread(Work) { IsBackground = true, Name = $"bulwark-password-hashing-{index}" };
            _workers[index].Start();
        }
    }

    /// <summary>Hashes computed at the same time (dedicated threads).</summary>
    public int Concurrency { get; }

    /// <summary>Hashes that may wait for a thread; one more is refused.</summary>
    public int QueueMax { get; }

    /// <summary>Requests waiting right now (not counting those being hashed).</summary>
    public int Waiting => _waiting.Count;

    /// <summary>
    /// Queues <paramref name="work"/> and returns its task, or false at once when
    /// <see cref="QueueMax"/> requests are already waiting. Work whose
    /// <paramref name="cancellationToken"/> is cancelled before a thread takes it is skipped.
    /// </summary>
    public bool TryRun<T>(Func<T> work, CancellationToken cancellationToken, out Task<T> task)
    {
        ArgumentNullException.ThrowIfNull(work);
        var item = new WorkItem<T>(work, cancellationToken);
        task = item.Task;
        return !_stopping && _waiting.TryAdd(item);
    }

    private void Work()
    {
        foreach (var item in _waiting.GetConsumingEnumerable())
        {
            item.Run(_stopping);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _waiting.CompleteAdding();
        // Each worker finishes at most the hash it is computing, then skips the rest.
        var joined = _workers.All(worker => worker.Join(TimeSpan.FromSeconds(5)));
        if (joined)
        {
            _waiting.Dispose();
        }
    }

    private abstract class WorkItem
    {
        public abstract void Run(bool stopping);
    }

    private sealed class WorkItem<T>(Func<T> work, CancellationToken cancellationToken) : WorkItem
    {
        // Continuations run on the thread pool, never on a hashing thread.
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Task => _completion.Task;

        public override void Run(bool stopping)
        {
            if (stopping || cancellationToken.IsCancellationRequested)
            {
                _completion.TrySetCanceled(stopping ? CancellationToken.None : cancellationToken);
                return;
            }
            try
            {
                _completion.TrySetResult(work());
            }
#pragma warning disable CA1031 // The failure belongs to the caller awaiting the task, not to the worker thread.
            catch (Exception error)
#pragma warning restore CA1031
            {
                _completion.TrySetException(error);
            }
        }
    }
}
