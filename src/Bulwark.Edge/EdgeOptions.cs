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

    internal void Validate()
    {
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
}
