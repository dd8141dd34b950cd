namespace Bulwark.Feed.Items;

/// <summary>
/// The customer's day: "today" starts at midnight where the customer lives (Europe/London for
/// Bulwark's customers), not at midnight UTC, which is 01:00 in London for half the year.
/// </summary>
internal static class CustomerDay
{
    /// <summary>The instant the customer's day that contains <paramref name="now"/> began.</summary>
    public static DateTimeOffset StartOf(DateTimeOffset now, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var localMidnight = TimeZoneInfo.ConvertTime(now, zone).Date;
        // UK clocks change at 01:00 and 02:00, never at midnight; a zone whose midnight is skipped
        // (invalid) starts its day at the first valid instant, one offset later.
        while (zone.IsInvalidTime(localMidnight))
        {
            localMidnight = localMidnight.AddMinutes(30);
        }
        return new DateTimeOffset(localMidnight, zone.GetUtcOffset(localMidnight));
    }
}
