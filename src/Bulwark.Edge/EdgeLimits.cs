namespace Bulwark.Edge;

/// <summary>Every limit of the edge in one place, named with the unit last.</summary>
public static class EdgeLimits
{
    public const int SigningKeyBytesMin = 32;
    public const int SigningKeyBytesDefault = 64;
    public const int SigningKeyBytesMax = 4096;

    public const int TokenLifetimeHoursMax = 24;
    public const int TokenClockSkewSecondsMax = 30;

    public const int ServiceCallTimeoutMillisecondsDefault = 5_000;
    public const int ServiceCallTimeoutMillisecondsMin = 10;
    public const int ServiceCallTimeoutMillisecondsMax = 60_000;

    /// <summary>The largest request body the API reads; every request it takes is far smaller.</summary>
    public const int RequestBodyBytesMax = 16 * 1024;
    public const int RequestJsonDepthMax = 8;

    public const int EmailLengthMax = 254;
    public const int PasswordLengthMax = 1024;
    public const int PotNameLengthMax = 40;
    /// <summary>A UK Faster Payments reference carries at most 18 characters.</summary>
    public const int PaymentReferenceLengthMax = 18;
    public const int CursorLengthMax = 512;
    public const int IdLengthMax = 64;

    /// <summary>
    /// The largest amount one payment, pot movement or pot goal may have (minor units): the accounts
    /// service's own limit (AccountsLimits.MovementAmountMax and PotGoalAmountMax). The edge checks it
    /// first so that the customer hears the real limit, not the size of a 64-bit integer.
    /// </summary>
    public const long AmountMaxMinor = 1_000_000_000_00;

    public const int FeedPageLimitDefault = 20;
    public const int FeedPageLimitMax = 100;

    /// <summary>Seconds a client should wait before retrying after a 503.</summary>
    public const int RetryAfterSecondsDefault = 1;

    /// <summary>Characters of a service's error message passed on to the customer.</summary>
    public const int ServiceMessageLengthMax = 200;
}
