namespace Bulwark.Feed;

/// <summary>How the feed service calls the ledger. The feed keeps no state of its own.</summary>
public sealed class FeedOptions
{
    /// <summary>How long one call to the ledger may take. Default: 5 seconds.</summary>
    public TimeSpan LedgerCallTimeout { get; init; } = TimeSpan.FromMilliseconds(FeedLimits.LedgerCallTimeoutMillisecondsDefault);

    /// <summary>
    /// The time zone of the customer's day: "spent today" counts from midnight there. An IANA id
    /// (the system's tz database must have it). Default: Europe/London.
    /// </summary>
    public string CustomerTimeZoneId { get; init; } = "Europe/London";

    /// <summary>Throws when an option is unusable, so that a misconfigured process fails at start.</summary>
    public void Validate()
    {
        if (LedgerCallTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("FeedOptions.LedgerCallTimeout must be positive.");
        }
        _ = CustomerTimeZone;
    }

    /// <summary>The zone of <see cref="CustomerTimeZoneId"/>; throws when the system does not know it.</summary>
    internal TimeZoneInfo CustomerTimeZone
    {
        get
        {
            try
            {
                return TimeZoneInfo.FindSystemTimeZoneById(CustomerTimeZoneId);
            }
            catch (Exception error) when (error is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
            {
                throw new ArgumentException($"FeedOptions.CustomerTimeZoneId '{CustomerTimeZoneId}' is not a time zone this system knows (install tzdata).", error);
            }
        }
    }
}
