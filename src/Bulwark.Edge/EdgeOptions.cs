namespace Bulwark.Edge;

/// <summary>How the public app API issues and checks customer tokens and calls the services behind it.</summary>
public sealed class EdgeOptions
{
    /// <summary>
    /// A file holding the token signing key (at least <see cref="EdgeLimits.SigningKeyBytesMin"/> random
    /// bytes). Created with mode 0600 and <see cref="EdgeLimits.SigningKeyBytesDefault"/> random bytes when
    /// missing, so tokens survive a restart.
    /// </summary>
    public required string SigningKeyPath { get; init; }

    /// <summary>How long a customer token is valid. Default: one hour.</summary>
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The token's <c>iss</c> claim, checked on every request. Default: <c>bulwark-edge</c>.</summary>
    public string Issuer { get; init; } = "bulwark-edge";

    /// <summary>The token's <c>aud</c> claim, checked on every request. Default: <c>bulwark-app</c>.</summary>
    public string Audience { get; init; } = "bulwark-app";

    /// <summary>The deadline of every gRPC call the edge makes. Default: five seconds.</summary>
    public TimeSpan ServiceCallTimeout { get; init; } = TimeSpan.FromMilliseconds(EdgeLimits.ServiceCallTimeoutMillisecondsDefault);

    /// <summary>
    /// Failed logins from one source address (the TCP peer; forwarded-for headers are not trusted)
    /// before further attempts from it answer 429. The budget refills evenly over
    /// <see cref="LoginFailureWindow"/>; successful logins never spend it. Default: 30.
    /// </summary>
    public int LoginFailuresPerSourceMax { get; init; } = 30;

    /// <summary>Failed logins for one account (email) before further attempts for it answer 429. Default: 10.</summary>
    public int LoginFailuresPerAccountMax { get; init; } = 10;

    /// <summary>The time over which a spent login failure budget refills completely. Default: 15 minutes.</summary>
    public TimeSpan LoginFailureWindow { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Consecutive failed logins for one account answered without delay; after them each attempt must
    /// wait 1, 2, 4 … seconds after the last failure (up to <see cref="LoginBackoffMax"/>). A successful
    /// login starts again. Default: 3.
    /// </summary>
    public int LoginBackoffFreeFailures { get; init; } = 3;

    /// <summary>The longest back-off after failed logins. Default: 5 minutes.</summary>
    public TimeSpan LoginBackoffMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Payments to a sort code and account number that has no account, per customer, before the
    /// customer's payments answer 429: what keeps the payee lookup from enumerating account numbers.
    /// Refills evenly over <see cref="PayeeMissWindow"/>. Default: 10.
    /// </summary>
    public int PayeeMissesPerCustomerMax { get; init; } = 10;

    /// <summary>The time over which a spent payee miss budget refills completely. Default: one hour.</summary>
    public TimeSpan PayeeMissWindow { get; init; } = TimeSpan.FromHours(1);

    /// <summary>App API requests served at once; the next is queued (up to <see cref="AppRequestsQueuedMax"/>) or answered 503 overloaded.</summary>
    public int AppRequestsInFlightMax { get; init; } = EdgeLimits.AppRequestsInFlightMaxDefault;

    /// <summary>App API requests that may wait for a place when all are taken; 0 for none.</summary>
    public int AppRequestsQueuedMax { get; init; } = EdgeLimits.AppRequestsQueuedMaxDefault;

    internal void Validate()
    {
        ValidateThrottling();
        if (AppRequestsInFlightMax < 1 || AppRequestsInFlightMax > EdgeLimits.AppRequestsInFlightMaxMax)
        {
            throw new ArgumentOutOfRangeException(nameof(AppRequestsInFlightMax), AppRequestsInFlightMax,
                $"EdgeOptions.AppRequestsInFlightMax must be between 1 and {EdgeLimits.AppRequestsInFlightMaxMax}.");
        }
        if (AppRequestsQueuedMax < 0 || AppRequestsQueuedMax > EdgeLimits.AppRequestsQueuedMaxMax)
        {
            throw new ArgumentOutOfRangeException(nameof(AppRequestsQueuedMax), AppRequestsQueuedMax,
                $"EdgeOptions.AppRequestsQueuedMax must be between 0 and {EdgeLimits.AppRequestsQueuedMaxMax}.");
        }
        if (string.IsNullOrWhiteSpace(SigningKeyPath))
        {
            throw new ArgumentException("EdgeOptions.SigningKeyPath must name a file for the token signing key.", nameof(SigningKeyPath));
        }
        if (TokenLifetime < TimeSpan.FromMinutes(1) || TokenLifetime > TimeSpan.FromHours(EdgeLimits.TokenLifetimeHoursMax))
        {
            throw new ArgumentOutOfRangeException(nameof(TokenLifetime), TokenLifetime,
                $"EdgeOptions.TokenLifetime must be between one minute and {EdgeLimits.TokenLifetimeHoursMax} hours.");
        }
        if (string.IsNullOrWhiteSpace(Issuer) || string.IsNullOrWhiteSpace(Audience))
        {
            throw new ArgumentException("EdgeOptions.Issuer and EdgeOptions.Audience must not be empty.");
        }
        if (ServiceCallTimeout < TimeSpan.FromMilliseconds(EdgeLimits.ServiceCallTimeoutMillisecondsMin)
            || ServiceCallTimeout > TimeSpan.FromMilliseconds(EdgeLimits.ServiceCallTimeoutMillisecondsMax))
        {
            throw new ArgumentOutOfRangeException(nameof(ServiceCallTimeout), ServiceCallTimeout,
                $"EdgeOptions.ServiceCallTimeout must be between {EdgeLimits.ServiceCallTimeoutMillisecondsMin} ms and {EdgeLimits.ServiceCallTimeoutMillisecondsMax} ms.");
        }
    }

    private void ValidateThrottling()
    {
        if (LoginFailuresPerSourceMax is < 1 or > EdgeLimits.FailureBudgetMax
            || LoginFailuresPerAccountMax is < 1 or > EdgeLimits.FailureBudgetMax
            || PayeeMissesPerCustomerMax is < 1 or > EdgeLimits.FailureBudgetMax)
        {
            throw new ArgumentOutOfRangeException(nameof(LoginFailuresPerSourceMax),
                $"EdgeOptions.LoginFailuresPerSourceMax, LoginFailuresPerAccountMax and PayeeMissesPerCustomerMax must be 1 to {EdgeLimits.FailureBudgetMax}.");
        }
        if (LoginFailureWindow < TimeSpan.FromSeconds(1) || LoginFailureWindow > TimeSpan.FromDays(1)
            || PayeeMissWindow < TimeSpan.FromSeconds(1) || PayeeMissWindow > TimeSpan.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(nameof(LoginFailureWindow), "EdgeOptions.LoginFailureWindow and PayeeMissWindow must be one second to one day.");
        }
        if (LoginBackoffFreeFailures is < 0 or > EdgeLimits.FailureBudgetMax)
        {
            throw new ArgumentOutOfRangeException(nameof(LoginBackoffFreeFailures), LoginBackoffFreeFailures,
                $"EdgeOptions.LoginBackoffFreeFailures must be 0 to {EdgeLimits.FailureBudgetMax}.");
        }
        if (LoginBackoffMax < TimeSpan.FromSeconds(1) || LoginBackoffMax > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(LoginBackoffMax), LoginBackoffMax, "EdgeOptions.LoginBackoffMax must be one second to one hour.");
        }
    }
}
