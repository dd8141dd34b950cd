namespace Bulwark.Edge.Authentication;

/// <summary>
/// The lifetime check of the edge's tokens, customers' and staff's alike: against the injected
/// clock (so that expiry is testable and follows the time source that stamped the token), with
/// <see cref="EdgeLimits.TokenClockSkewSecondsMax"/> of skew either way; a token without an expiry is refused.
/// </summary>
internal static class TokenLifetime
{
    public static bool IsValid(DateTime? notBefore, DateTime? expires, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (expires is null)
        {
            return false;
        }
        var now = time.GetUtcNow().UtcDateTime;
        var skew = TimeSpan.FromSeconds(EdgeLimits.TokenClockSkewSecondsMax);
        return (notBefore is null || notBefore.Value <= now + skew) && now < expires.Value + skew;
    }
}
