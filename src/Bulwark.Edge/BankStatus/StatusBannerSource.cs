using Bulwark.Platform.Configuration;

namespace Bulwark.Edge.BankStatus;

/// <summary>Where the customer edge learns the banner to show.</summary>
public interface IStatusBannerSource
{
    /// <summary>The banner to show now, or null. Answered from memory: the status endpoint is hit by every app, every 30 s.</summary>
    StatusBanner? Current { get; }
}

/// <summary>An edge without a configuration client (tests, an edge run alone): never a banner.</summary>
internal sealed class NoStatusBanner : IStatusBannerSource
{
    public StatusBanner? Current => null;
}

/// <summary>
/// The banner read from configuration (<see cref="StatusBanner.Key"/>) through the platform's client
/// (R14): a deletion clears it; a value that does not parse keeps the last good banner (counted by
/// the client as a malformed value and alerted on); the configuration service away, or answering a
/// not-found it cannot trust, keeps the last good banner too — a bank in trouble does not lose its
/// banner because configuration is in trouble with it.
/// </summary>
public sealed class ConfigStatusBanner : IStatusBannerSource, IDisposable
{
    private readonly ConfigSetting<StatusBanner?> _setting;

    public ConfigStatusBanner(ConfigValues values)
    {
        ArgumentNullException.ThrowIfNull(values);
        _setting = values.Setting<StatusBanner?>(StatusBanner.Key, StatusBanner.Parse, null);
    }

    public StatusBanner? Current => _setting.Current;

    public void Dispose() => _setting.Dispose();
}
