namespace Bulwark.Config.Watch;

/// <summary>
/// Wakes this process's watchers when the store may have new changes: at once after a commit
/// made here, and from <see cref="ConfigRevisionPoller"/> when another instance committed. A
/// watcher takes <see cref="Next"/> before it reads the store, so a commit between its read and
/// its wait still wakes it.
/// </summary>
public sealed class ConfigChangeSignal
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _next = NewSource();

    /// <summary>Completes at the next <see cref="Notify"/>.</summary>
    public Task Next
    {
        get
        {
            lock (_lock)
            {
                return _next.Task;
            }
        }
    }

    /// <summary>Wakes everyone waiting on <see cref="Next"/>.</summary>
    public void Notify()
    {
        TaskCompletionSource woken;
        lock (_lock)
        {
            woken = _next;
            _next = NewSource();
        }
        woken.TrySetResult();
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
