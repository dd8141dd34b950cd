using Bulwark.Platform.Placement;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Platform.Tests.Placement;

public sealed class CellBirthConfirmerTests
{
    private static readonly CellBirthConfirmerOptions Quick = new()
    {
        AttemptTimeout = TimeSpan.FromMilliseconds(200),
        FirstRetryDelay = TimeSpan.FromMilliseconds(10),
        RetryDelayMax = TimeSpan.FromMilliseconds(40),
        AttemptsMax = 6,
    };

    [Fact]
    public async Task Confirm_StoreAnswers_ConfirmsOnce_WithNothingLeftRunning()
    {
        var births = new FlakyBirths(failures: 0);
        await using var confirmer = new CellBirthConfirmer(births, NullLogger.Instance, Quick);

        await confirmer.ConfirmAsync("a", CancellationToken.None);

        Assert.Equal(["a"], births.Confirmed);
        Assert.True(confirmer.RetryingOf("a").IsCompleted);
    }

    [Fact]
    public async Task Confirm_StoreFailsThenHangsThenAnswers_ReturnsAfterTheFirstAttempt_AndConfirmsInTheBackground()
    {
        var births = new FlakyBirths(failures: 3) { HangFirst = true };
        await using var confirmer = new CellBirthConfirmer(births, NullLogger.Instance, Quick);

        await confirmer.ConfirmAsync("a", CancellationToken.None);

        Assert.Empty(births.Confirmed);
        await confirmer.RetryingOf("a").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["a"], births.Confirmed);
        Assert.Equal(4, births.Attempts);
    }

    [Fact]
    public async Task Confirm_StoreNeverAnswers_StopsAfterItsAttempts()
    {
        var births = new FlakyBirths(failures: int.MaxValue);
        await using var confirmer = new CellBirthConfirmer(births, NullLogger.Instance, Quick);

        await confirmer.ConfirmAsync("a", CancellationToken.None);
        await confirmer.RetryingOf("a").WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Quick.AttemptsMax, births.Attempts);
        Assert.Empty(births.Confirmed);
    }

    [Fact]
    public async Task Dispose_StopsTheBackgroundRetries()
    {
        var births = new FlakyBirths(failures: int.MaxValue);
        var confirmer = new CellBirthConfirmer(births, NullLogger.Instance, Quick with { FirstRetryDelay = TimeSpan.FromMinutes(1), RetryDelayMax = TimeSpan.FromMinutes(1) });
        await confirmer.ConfirmAsync("a", CancellationToken.None);
        var retrying = confirmer.RetryingOf("a");
        Assert.False(retrying.IsCompleted);

        await confirmer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(retrying.IsCompletedSuccessfully);
        Assert.Equal(1, births.Attempts);
    }

    /// <summary>Fails its first <c>failures</c> confirmations (the first one by hanging when asked), then confirms.</summary>
    private sealed class FlakyBirths(int failures) : ICellBirths
    {
        private int _attempts;

        public bool HangFirst { get; init; }

        public int Attempts => Volatile.Read(ref _attempts);

        public List<string> Confirmed { get; } = [];

        public Task<CellBirthClaim> ClaimAsync(string cell, CancellationToken cancellationToken) => throw new NotSupportedException();

        public async Task ConfirmAsync(string cell, CancellationToken cancellationToken)
        {
            var attempt = Interlocked.Increment(ref _attempts);
            if (attempt == 1 && HangFirst)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            if (attempt <= failures)
            {
                throw new IOException("etcd unavailable");
            }
            lock (Confirmed)
            {
                Confirmed.Add(cell);
            }
        }
    }
}
