namespace Bulwark.Platform.Configuration;

/// <summary>
/// What the configuration client says about one key: a <see cref="ConfigValue"/>, a
/// <see cref="ConfigDeleted"/> (a tombstone it has seen), or <see cref="ConfigUnknown"/> (it cannot
/// say now). Never a bare "not found": in 2019 a configuration service answered not-found for a key
/// that existed and the internal edge, reading its allowed network ranges, rejected every staff
/// request. A consumer acts on a value and on a deletion; on "unknown" it keeps what it had
/// (<see cref="ConfigUnknown.LastGood"/>), which <see cref="ConfigSetting{T}"/> does for it (R14).
/// </summary>
public abstract record ConfigAnswer
{
    private protected ConfigAnswer()
    {
    }
}

/// <summary>The key holds <paramref name="Text"/>, set at store revision <paramref name="Version"/>, as the service last confirmed.</summary>
public sealed record ConfigValue(string Text, long Version) : ConfigAnswer;

/// <summary>
/// The key was deleted at store revision <paramref name="Version"/>: the service sent its tombstone.
/// The one absence a consumer acts on (a setting goes back to its default).
/// </summary>
public sealed record ConfigDeleted(long Version) : ConfigAnswer;

/// <summary>
/// The client cannot say what the key holds now. <paramref name="LastGood"/> is the last value it
/// held (from the service or from its cache file), or null when it never held one; a consumer keeps
/// using it. <paramref name="Why"/> is for logs and problem details.
/// </summary>
public sealed record ConfigUnknown(ConfigValue? LastGood, ConfigUnknownReason Reason, string Why) : ConfigAnswer;

/// <summary>Why a key's answer is <see cref="ConfigUnknown"/>.</summary>
public enum ConfigUnknownReason
{
    /// <summary>
    /// The service has not confirmed the key's prefix within the staleness bound: it is down,
    /// hanging, its watch went silent, or this process has just started (values then come from the
    /// cache file).
    /// </summary>
    Unavailable,

    /// <summary>
    /// The service's view of the prefix lacks a key this client held a value for, without a
    /// tombstone: the 2019 not-found. Not believed; counted and alerted on (R14).
    /// </summary>
    UntrustedNotFound,

    /// <summary>
    /// The service answered at a store revision below the highest this client has seen for the
    /// prefix (a store restored from an old backup): its answers are refused (R14).
    /// </summary>
    RevisionWentBack,

    /// <summary>
    /// The service's confirmed view of the prefix has no such key and this client never held it: it
    /// has never been set, as far as anyone can tell. <see cref="ConfigSetting{T}"/> uses its default.
    /// </summary>
    NeverSet,
}
