using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Bulwark.Edge.Telemetry;
using Bulwark.Edge.Tests.Fakes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Tests.Api;

public sealed class LoginThrottlingTests
{
    private static Func<string, EdgeOptions> Limits(int perSource = 1_000, int perAccount = 1_000, int backoffFree = 1_000) => keyPath => new EdgeOptions
    {
        SigningKeyPath = keyPath,
        LoginFailuresPerSourceMax = perSource,
        LoginFailuresPerAccountMax = perAccount,
        LoginBackoffFreeFailures = backoffFree,
    };

    private static Task<HttpResponseMessage> LoginAsync(EdgeHost host, string email, string password) =>
        host.SendAsync(HttpMethod.Post, "/api/login", JsonSerializer.Serialize(new { email, password }));

    private static async Task AssertTooManyAsync(HttpResponseMessage response, int? retryAfterSeconds = null)
    {
        await Problems.AssertAsync(response, HttpStatusCode.TooManyRequests, "too-many-requests");
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.True(retryAfter >= TimeSpan.FromSeconds(1), $"Retry-After {retryAfter}");
        if (retryAfterSeconds is { } expected)
        {
            Assert.Equal(TimeSpan.FromSeconds(expected), retryAfter);
        }
    }

    [Fact]
    public async Task Login_FailuresFromOneSourceBeyondBudget_Returns429WithRetryAfterEvenForRightPassword()
    {
        await using var host = await EdgeHost.StartAsync(options: Limits(perSource: 3));
        for (var attempt = 0; attempt < 3; attempt++)
        {
            using var failed = await LoginAsync(host, $"guess{attempt}@bulwark.example", "wrong-password");
            await Problems.AssertAsync(failed, HttpStatusCode.Unauthorized, "invalid-credentials");
        }
        var callsBefore = host.Bank.CallCount(FakeAccounts.Service);

        using var refused = await LoginAsync(host, FakeBank.DemoEmail, FakeBank.DemoPassword);

        await AssertTooManyAsync(refused);
        Assert.Equal(callsBefore, host.Bank.CallCount(FakeAccounts.Service));
    }

    [Fact]
    public async Task Login_ManySuccessfulLogins_NeverThrottledAndSpendNoFailureBudget()
    {
        await using var host = await EdgeHost.StartAsync(options: Limits(perSource: 3, perAccount: 3, backoffFree: 3));
        for (var attempt = 0; attempt < 50; attempt++)
        {
            using var ok = await LoginAsync(host, FakeBank.DemoEmail, FakeBank.DemoPassword);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        for (var attempt = 0; attempt < 3; attempt++)
        {
            using var failed = await LoginAsync(host, FakeBank.OtherEmail, "wrong-password");
            await Problems.AssertAsync(failed, HttpStatusCode.Unauthorized, "invalid-credentials");
        }

        using var refused = await LoginAsync(host, FakeBank.OtherEmail, FakeBank.OtherPassword);

        await AssertTooManyAsync(refused);
    }

    [Fact]
    public async Task Login_FailuresForOneAccountBeyondBudget_Returns429ForThatAccountOnly()
    {
        await using var host = await EdgeHost.StartAsync(options: Limits(perAccount: 3));
        for (var attempt = 0; attempt < 3; attempt++)
        {
            // The account is the email compared without regard to case.
            using var failed = await LoginAsync(host, attempt == 1 ? FakeBank.DemoEmail.ToUpperInvariant() : FakeBank.DemoEmail, "wrong-password");
            await Problems.AssertAsync(failed, HttpStatusCode.Unauthorized, "invalid-credentials");
        }

        using var refused = await LoginAsync(host, FakeBank.DemoEmail, FakeBank.DemoPassword);
        using var otherAccount = await LoginAsync(host, FakeBank.OtherEmail, FakeBank.OtherPassword);

        await AssertTooManyAsync(refused);
        Assert.Equal(HttpStatusCode.OK, otherAccount.StatusCode);
    }

    [Fact]
    public async Task Login_ConsecutiveFailures_BackOffGrowsAndASuccessEndsIt()
    {
        await using var host = await EdgeHost.StartAsync(options: Limits(backoffFree: 2));
        async Task FailAsync()
        {
            using var failed = await LoginAsync(host, FakeBank.DemoEmail, "wrong-password");
            await Problems.AssertAsync(failed, HttpStatusCode.Unauthorized, "invalid-credentials");
        }
        await FailAsync();
        await FailAsync();
        await FailAsync();

        foreach (var seconds in new[] { 1, 2, 4 })
        {
            using var refused = await LoginAsync(host, FakeBank.DemoEmail, FakeBank.DemoPassword);
            await AssertTooManyAsync(refused, seconds);
            host.Time.Advance(TimeSpan.FromSeconds(seconds));
            if (seconds < 4)
            {
                await FailAsync();
            }
        }
        using var ok = await LoginAsync(host, FakeBank.DemoEmail, FakeBank.DemoPassword);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await FailAsync();
        await FailAsync();
        using var afterSuccess = await LoginAsync(host, FakeBank.DemoEmail, FakeBank.DemoPassword);
        Assert.Equal(HttpStatusCode.OK, afterSuccess.StatusCode);
    }

    [Fact]
    public async Task Login_Failures_CountedByReason()
    {
        await using var host = await EdgeHost.StartAsync(options: Limits(perSource: 2));
        var reasons = new List<string>();
        var factory = host.App.Services.GetRequiredService<IMeterFactory>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == EdgeMetrics.LoginFailuresCounterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "reason")
                {
                    lock (reasons)
                    {
                        reasons.Add((string)tag.Value!);
                    }
                }
            }
        });
        listener.Start();

        (await LoginAsync(host, FakeBank.DemoEmail, "wrong-password")).Dispose();
        (await LoginAsync(host, FakeBank.DemoEmail, "wrong-password")).Dispose();
        (await LoginAsync(host, FakeBank.DemoEmail, "wrong-password")).Dispose();
        (await LoginAsync(host, FakeBank.DemoEmail, FakeBank.DemoPassword)).Dispose();

        lock (reasons)
        {
            Assert.Equal(["invalid_credentials", "invalid_credentials", "throttled", "throttled"], reasons);
        }
    }

    [Fact]
    public async Task Login_PasswordCheckQueueFull_Returns503WithRetryAfterAndSpendsNoBudget()
    {
        await using var host = await EdgeHost.StartAsync(options: Limits(perSource: 1, perAccount: 1));
        host.Bank.Fail(FakeAccounts.Service, StatusCode.ResourceExhausted);

        using var busy = await LoginAsync(host, FakeBank.DemoEmail, FakeBank.DemoPassword);
        using var again = await LoginAsync(host, FakeBank.DemoEmail, FakeBank.DemoPassword);

        await Problems.AssertAsync(busy, HttpStatusCode.ServiceUnavailable, "service-unavailable");
        Assert.NotNull(busy.Headers.RetryAfter);
        await Problems.AssertAsync(again, HttpStatusCode.ServiceUnavailable, "service-unavailable");
    }
}
