using System.Globalization;
using Bulwark.Platform.Configuration;

namespace Bulwark.Cards.Authorisation;

/// <summary>
/// The most the bank approves for one card, in total, while the ledger does not answer (stand-in);
/// read on every stand-in decision, so a change applies to the next one.
/// </summary>
public interface IStandInLimit
{
    /// <summary>Minor units; 0 turns stand-in off (then 91, issuer unavailable).</summary>
    long PerCardMinor { get; }
}

/// <summary>The limit of <see cref="CardsOptions.StandInLimitPerCardMinor"/>, fixed for the process.</summary>
internal sealed class FixedStandInLimit(CardsOptions options) : IStandInLimit
{
    public long PerCardMinor => options.StandInLimitPerCardMinor;
}

/// <summary>
/// The stand-in limit read from configuration (<see cref="Key"/>, minor units as digits) through
/// the platform's configuration client (R14): the last good value is kept when the configuration
/// service is away or answers a not-found it cannot trust, a malformed value keeps it too (counted
/// and alerted by the client), and a deletion goes back to <see cref="CardsOptions.StandInLimitPerCardMinor"/>.
/// An operator lowers it during an incident (docs/runbooks/card-stand-in.md) without a deploy.
/// </summary>
public sealed class ConfigStandInLimit : IStandInLimit, IDisposable
{
    public const string Key = "cards/stand-in/limit-per-card-minor";

    /// <summary>The prefix the card processor's configuration client watches.</summary>
    public const string Prefix = "cards/";

    private readonly ConfigSetting<long> _setting;

    public ConfigStandInLimit(ConfigValues values, CardsOptions options)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(options);
        _setting = values.Setting(Key, text => Parse(text, options.AmountMaxMinor), options.StandInLimitPerCardMinor);
    }

    public long PerCardMinor => _setting.Current;

    /// <summary>Digits, 0 to the largest authorisation amount; anything else is refused (the last good limit stays).</summary>
    public static long Parse(string text, long max)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        if (!long.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) || limit > max)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                $"{Key} must be a whole number of minor units from 0 to {max} (0 turns stand-in off), not '{(trimmed.Length > 40 ? trimmed[..40] + "…" : trimmed)}'."));
        }
        return limit;
    }

    public void Dispose() => _setting.Dispose();
}
