using Bulwark.Platform.Configuration;
using Bulwark.Platform.Security;

namespace Bulwark.Edge.Staff;

/// <summary>
/// The staff edge's allowed ranges read from configuration (<see cref="Key"/>: comma- or
/// space-separated CIDR blocks or addresses) through the platform's configuration client (R14):
/// answered from memory on every request; a value that does not parse keeps the last good ranges
/// (counted and alerted by the client); the configuration service down, hanging, or answering a
/// not-found it cannot trust keeps the last good ranges too — staff are never locked out by
/// configuration going away. Only a deliberate change (or a deletion: back to the edge's defaults)
/// changes what is allowed, at the next request.
/// </summary>
public sealed class ConfigStaffSourceRanges : IStaffSourceRanges, IDisposable
{
    /// <summary>The configuration key of the allowed ranges.</summary>
    public const string Key = "edge/staff/allowed-ranges";

    /// <summary>The prefix the staff edge's configuration client watches.</summary>
    public const string Prefix = "edge/staff/";

    private readonly ConfigValues _values;
    private readonly ConfigSetting<SourceNetworks?> _setting;
    private readonly SourceNetworks _defaults;

    public ConfigStaffSourceRanges(ConfigValues values, StaffEdgeOptions options)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(options);
        _values = values;
        _defaults = new SourceNetworks(options.DefaultAllowedRanges);
        _setting = values.Setting<SourceNetworks?>(Key, Parse, null);
    }

    /// <summary>
    /// Read on every staff request: built again only when the answer or the last good value
    /// changed (the client hands out one answer object per change), else the one built before.
    /// </summary>
    public StaffRanges Current
    {
        get
        {
            var answer = _values.Get(Key);
            var version = _setting.Version;
            var cached = Volatile.Read(ref _cached);
            if (cached is not null && ReferenceEquals(cached.Answer, answer) && cached.Version == version)
            {
                return cached.Ranges;
            }
            var ranges = Build(answer, version);
            Volatile.Write(ref _cached, new Cached(answer, version, ranges));
            return ranges;
        }
    }

    private sealed record Cached(ConfigAnswer Answer, long? Version, StaffRanges Ranges);

    private Cached? _cached;

    private StaffRanges Build(ConfigAnswer answer, long? settingVersion)
    {
        var networks = _setting.Current;
        if (networks is null)
        {
            return new StaffRanges(_defaults, answer is ConfigDeleted deleted
                ? $"the staff edge's defaults ({Key} deleted at revision {deleted.Version})"
                : $"the staff edge's defaults ({Key} never set)");
        }
        var origin = answer switch
        {
            ConfigValue { Version: var version } when version == settingVersion => $"configuration {Key} at revision {version}",
            ConfigValue { Version: var version } => $"last good {Key} at revision {settingVersion} (revision {version} is malformed)",
            ConfigUnknown unknown => $"last good {Key} at revision {settingVersion} ({unknown.Why})",
            _ => $"last good {Key} at revision {settingVersion}",
        };
        return new StaffRanges(networks, origin);
    }

    /// <summary>A list of blocks, or an exception naming the first bad entry (the client keeps the last good value).</summary>
    public static SourceNetworks Parse(string text) =>
        SourceNetworks.TryParseList(text, out var error) ?? throw new FormatException($"{Key}: {error}.");

    public void Dispose() => _setting.Dispose();
}
