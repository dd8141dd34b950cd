namespace Bulwark.Feed;

/// <summary>How the feed service calls the ledger. The feed keeps no state of its own.</summary>
public sealed class FeedOptions
{
    /// <summary>How long one call to the ledger may take. Default: 5 seconds.</summary>
    public TimeSpan LedgerCallTimeout { get; init; } = TimeSpan.FromMilliseconds(FeedLimits.LedgerCallTimeoutMillisecondsDefault);

    /// <summary>Throws when an option is unusable, so that a misconfigured process fails at start.</summary>
    public void Validate()
    {
        if (LedgerCallTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("FeedOptions.LedgerCallTimeout must be positive.");
        }
    }
}
