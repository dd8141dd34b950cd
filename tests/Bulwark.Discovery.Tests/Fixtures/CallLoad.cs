using Grpc.Core;
using Grpc.Health.V1;

namespace Bulwark.Discovery.Tests.Fixtures;

/// <summary>
/// Continuous calls from one process to one service until stopped (or a hard cap of three
/// minutes), counting successes and failures with the first few errors kept for the message.
/// </summary>
public sealed class CallLoad : IAsyncDisposable
{
    private static readonly TimeSpan RunMax = TimeSpan.FromMinutes(3);

    private readonly CancellationTokenSource _stop = new(RunMax);
    private readonly Task _loop;
    private readonly List<string> _errors = [];
    private long _successes;
    private long _failures;
    private long _retried;
    private int _disposed;

    private CallLoad(Health.HealthClient client, string service, bool waitForReady, TimeSpan deadline, bool retryNeverSent)
    {
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var options = new CallOptions(deadline: DateTime.UtcNow.Add(deadline)).WithWaitForReady(waitForReady);
                    var reply = await CallAsync(client, service, options, retryNeverSent);
                    if (reply.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                    {
                        Interlocked.Increment(ref _successes);
                    }
                    else
                    {
                        Fail($"status {reply.Status}");
                    }
                }
                catch (RpcException error)
                {
                    Fail($"{error.StatusCode}: {error.Status.Detail}");
                }
                try
                {
                    await Task.Delay(10, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
    }

    public long Successes => Interlocked.Read(ref _successes);

    public long Failures => Interlocked.Read(ref _failures);

    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return string.Join(" | ", _errors);
            }
        }
    }

    public static CallLoad Start(Health.HealthClient client, string service, bool waitForReady = false, double deadlineSeconds = 5, bool retryNeverSent = false) =>
        new(client, service, waitForReady, TimeSpan.FromSeconds(deadlineSeconds), retryNeverSent);

    /// <summary>Calls that were refused at connect and so never reached a server, retried once.</summary>
    public long RetriedNeverSent => Interlocked.Read(ref _retried);

    /// <summary>
    /// One call; with <paramref name="retryNeverSent"/>, a call that was never processed is retried
    /// once: refused while connecting (the request never left this process), or started on a
    /// connection the instance was closing gracefully (HTTP/2 GOAWAY with NO_ERROR, then the
    /// connection closed without an answer: the server processes every stream it accepted before
    /// it closes, so this one it refused). Either way a retry cannot duplicate it. That is the race
    /// of a stale view with an instance that has just stopped: the balancer still holds its
    /// connection as ready when the connection closes (a full run once met the GOAWAY form).
    /// </summary>
    private async Task<HealthCheckResponse> CallAsync(Health.HealthClient client, string service, CallOptions options, bool retryNeverSent)
    {
        try
        {
            return await client.CheckAsync(new HealthCheckRequest { Service = service }, options);
        }
        catch (RpcException error) when (retryNeverSent && NeverProcessed(error))
        {
            Interlocked.Increment(ref _retried);
            return await client.CheckAsync(new HealthCheckRequest { Service = service }, options);
        }
    }

    private static bool NeverProcessed(RpcException error) => error.Status.DebugException switch
    {
        HttpRequestException { InnerException: System.Net.Sockets.SocketException } => error.StatusCode == StatusCode.Unavailable,
        HttpRequestException { InnerException: HttpProtocolException { ErrorCode: 0 } } => true,
        _ => false,
    };

    private void Fail(string error)
    {
        Interlocked.Increment(ref _failures);
        lock (_errors)
        {
            if (_errors.Count < 5)
            {
                _errors.Add(error);
            }
        }
    }

    /// <summary>Waits until <paramref name="count"/> more calls succeeded (bounded by <paramref name="seconds"/>).</summary>
    public async Task<bool> WaitForSuccessesAsync(long count, double seconds = 15)
    {
        var target = Successes + count;
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (Successes < target && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        return Successes >= target;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}

public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> every 50 ms for at most <paramref name="seconds"/>.</summary>
    public static async Task<bool> TrueAsync(Func<bool> condition, double seconds = 15)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return true;
            }
            await Task.Delay(50);
        }
        return condition();
    }
}
