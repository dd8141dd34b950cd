using System.Net;
using Bulwark.Edge.Tests.Fakes;
using Bulwark.Platform.Overload;
using Grpc.Core;

namespace Bulwark.Edge.Tests.Throttling;

/// <summary>
/// An edge at its limit of app API requests answers the next one at once with 503 overloaded and
/// Retry-After (nothing of it ran), and passes on a service's own "overloaded" the same way.
/// </summary>
public sealed class AppConcurrencyLimitTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static Task<EdgeHost> StartFullableAsync() => EdgeHost.StartAsync(options: path => new EdgeOptions
    {
        SigningKeyPath = path,
        ServiceCallTimeout = Bound,
        AppRequestsInFlightMax = 2,
        AppRequestsQueuedMax = 0,
    });

    [Fact]
    public async Task AppApi_EdgeFull_Answers503OverloadedWithRetryAfterWithoutWaitingForTheSlowRequests()
    {
        await using var host = await StartFullableAsync();
        var token = await host.LoginAsync();
        using var stopSlow = new CancellationTokenSource();
        var slow = await FillAsync(host, token, stopSlow.Token);
        var accountsCalls = host.Bank.CallCount(FakeAccounts.Service);

        using var response = await host.SendAsync(HttpMethod.Post, "/api/payments", """{"amount":{"value":"1.00","currency":"GBP"}}""",
            token: token, idempotencyKey: EdgeHost.NewIdempotencyKey());
        // Answered while both slow requests still hold their places: it did not wait for them.
        var slowStillRunning = slow.All(request => !request.IsCompleted);
        var problem = await Problems.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "overloaded");
        var retryAfter = response.Headers.RetryAfter?.Delta;
        await stopSlow.CancelAsync();
        await Task.WhenAll(slow.Select(request => request.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(Bound);

        Assert.True(slowStillRunning);
        Assert.Equal(TimeSpan.FromSeconds(1), retryAfter);
        Assert.Contains("same Idempotency-Key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // Nothing of the shed request ran: no service was called for it.
        Assert.Equal(accountsCalls, host.Bank.CallCount(FakeAccounts.Service));
    }

    [Fact]
    public async Task Health_EdgeFull_StillAnswered()
    {
        await using var host = await StartFullableAsync();
        var token = await host.LoginAsync();
        using var stopSlow = new CancellationTokenSource();
        var slow = await FillAsync(host, token, stopSlow.Token);

        using var live = await host.SendAsync(HttpMethod.Get, "/health/live");
        await stopSlow.CancelAsync();
        await Task.WhenAll(slow.Select(request => request.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task Balance_LedgerShedsTheCall_Answers503OverloadedWithItsRetryAfter()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Refuse(FakeLedger.Service, new RpcException(new Status(StatusCode.Unavailable, "Overloaded"), new Metadata
        {
            { CallConcurrencyLimiter.OverloadedTrailer, "true" },
            { CallConcurrencyLimiter.RetryAfterTrailer, "2500" },
        }));

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/balance", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "overloaded");
        Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task Balance_LedgerUnavailableNotOverloaded_StillServiceUnavailable()
    {
        await using var host = await EdgeHost.StartAsync();
        var token = await host.LoginAsync();
        host.Bank.Fail(FakeLedger.Service, StatusCode.Unavailable);

        using var response = await host.SendAsync(HttpMethod.Get, $"/api/accounts/{FakeBank.DemoAccountId}/balance", token: token);

        await Problems.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "service-unavailable");
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, -1)]
    public async Task AddEdge_UnworkableLimits_ThrowAtStart(int inFlight, int queued)
    {
        var error = await Record.ExceptionAsync(() => EdgeHost.StartAsync(options: path => new EdgeOptions
        {
            SigningKeyPath = path,
            AppRequestsInFlightMax = inFlight,
            AppRequestsQueuedMax = queued,
        }));

        Assert.IsType<ArgumentOutOfRangeException>(error);
    }

    /// <summary>Two balance requests held by a slow ledger: with 2 places and no queue, the edge is full once the ledger has both.</summary>
    private static async Task<Task<HttpResponseMessage>[]> FillAsync(EdgeHost host, string token, CancellationToken stop)
    {
        var ledgerCalls = host.Bank.CallCount(FakeLedger.Service);
        host.Bank.Delay(FakeLedger.Service, Bound);
        var slow = Enumerable.Range(0, 2).Select(_ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/api/accounts/{FakeBank.DemoAccountId}/balance", UriKind.Relative));
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            return host.Http.SendAsync(request, stop);
        }).ToArray();
        using var bound = new CancellationTokenSource(Bound);
        while (host.Bank.CallCount(FakeLedger.Service) < ledgerCalls + 2)
        {
            await Task.Delay(10, bound.Token);
        }
        return slow;
    }
}
