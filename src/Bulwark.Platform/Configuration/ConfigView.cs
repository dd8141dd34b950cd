using System.Globalization;

namespace Bulwark.Platform.Configuration;

/// <summary>One key's latest change as the client holds it: a value, or a tombstone (<paramref name="Deleted"/>, empty value).</summary>
internal sealed record ConfigEntry(string Key, string Value, long Version, bool Deleted);

/// <summary>What applying one answer of the service did.</summary>
/// <param name="Refused">The answer was below the highest revision seen for the prefix and was not applied (R14 c).</param>
/// <param name="Untrusted">Keys the client held a value for that the answer lacked without a tombstone (R14 a).</param>
/// <param name="OlderKeys">Keys whose version in the answer was below the one held; the held one was kept.</param>
/// <param name="ContentChanged">A value or tombstone changed (the cache file is due a write).</param>
internal sealed record ConfigApplyResult(bool Refused, IReadOnlyList<string> Untrusted, IReadOnlyList<string> OlderKeys, bool ContentChanged)
{
    public static readonly ConfigApplyResult Nothing = new(false, [], [], false);
}

/// <summary>
/// The client's view of its prefixes and the R14 rules that decide every answer. Pure state, no
/// I/O: the watch (<see cref="ConfigPrefixWatcher"/>) feeds it what the service says, readers ask it
/// for answers from memory. Thread-safe.
/// <list type="bullet">
/// <item>A snapshot that lacks a key held with a value, without a tombstone, does not remove it: the
/// key is marked untrusted and answers <see cref="ConfigUnknownReason.UntrustedNotFound"/> with the
/// last good value until the service names the key again (a value or a tombstone).</item>
/// <item>A tombstone, in a change or a snapshot, makes the key <see cref="ConfigDeleted"/>.</item>
/// <item>An answer below the highest revision seen for the prefix is refused whole; the prefix answers
/// <see cref="ConfigUnknownReason.RevisionWentBack"/> until the service is back at or above it.</item>
/// <item>A prefix the service has not confirmed within the staleness bound answers
/// <see cref="ConfigUnknownReason.Unavailable"/>, with the last good values.</item>
/// </list>
/// </summary>
internal sealed class ConfigView
{
    private readonly ConfigClientOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Held> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PrefixState> _prefixes = new(StringComparer.Ordinal);

    public ConfigView(ConfigClientOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        var now = time.GetTimestamp();
        foreach (var prefix in options.Prefixes)
        {
            _prefixes[prefix] = new PrefixState { LastConfirmedTimestamp = now };
        }
    }

    public IReadOnlyList<string> Prefixes => _options.Prefixes;

    /// <summary>The answer for <paramref name="key"/>, from memory.</summary>
    /// <exception cref="ArgumentException">The key is not under a watched prefix (a programmer's error: add the prefix to the options).</exception>
    public ConfigAnswer Answer(string key)
    {
        var prefix = PrefixOrThrow(key);
        lock (_lock)
        {
            var state = _prefixes[prefix];
            _entries.TryGetValue(key, out var held);
            var lastGood = held is { Entry.Deleted: false } ? new ConfigValue(held.Entry.Value, held.Entry.Version) : null;
            if (state.RefusedRevision is { } refused)
            {
                return new ConfigUnknown(lastGood, ConfigUnknownReason.RevisionWentBack, string.Create(CultureInfo.InvariantCulture,
                    $"the config service answered for '{prefix}' at revision {refused}, below revision {state.Revision} already seen (a store restored from an old backup?)"));
            }
            if (!state.Fresh)
            {
                return new ConfigUnknown(lastGood, ConfigUnknownReason.Unavailable, state.EverConfirmed
                    ? $"the config service has not confirmed '{prefix}' within {_options.StaleAfter.TotalSeconds:0.#} s"
                    : $"the config service has not confirmed '{prefix}' since this process started");
            }
            if (held is null)
            {
                return new ConfigUnknown(null, ConfigUnknownReason.NeverSet, $"the config service's view of '{prefix}' has no such key");
            }
            if (held.Untrusted)
            {
                return new ConfigUnknown(lastGood, ConfigUnknownReason.UntrustedNotFound,
                    $"the config service's view of '{prefix}' lacks this key without a tombstone; the last good value is kept");
            }
            return held.Entry.Deleted ? new ConfigDeleted(held.Entry.Version) : lastGood!;
        }
    }

    /// <summary>The highest store revision seen for <paramref name="prefix"/>: the next watch resumes from it.</summary>
    public long RevisionOf(string prefix)
    {
        lock (_lock)
        {
            return _prefixes[prefix].Revision;
        }
    }

    public bool IsFresh(string prefix)
    {
        lock (_lock)
        {
            return _prefixes[prefix].Fresh;
        }
    }

    /// <summary>True while the service's answers for <paramref name="prefix"/> are refused because its revision went back.</summary>
    public bool IsRefused(string prefix)
    {
        lock (_lock)
        {
            return _prefixes[prefix].RefusedRevision is not null;
        }
    }

    /// <summary>Seconds since the service last confirmed <paramref name="prefix"/> (since start when it never has).</summary>
    public double StaleSeconds(string prefix)
    {
        long since;
        lock (_lock)
        {
            since = _prefixes[prefix].LastConfirmedTimestamp;
        }
        return _time.GetElapsedTime(since).TotalSeconds;
    }

    /// <summary>Keys that answer <see cref="ConfigUnknownReason.UntrustedNotFound"/> now.</summary>
    public IReadOnlyList<string> UntrustedKeys()
    {
        lock (_lock)
        {
            return [.. _entries.Where(pair => pair.Value.Untrusted).Select(pair => pair.Key).Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>
    /// Takes the cache file's entries and revisions, before the service has said anything: nothing
    /// is fresh yet. Entries outside the watched prefixes are dropped (the options changed).
    /// </summary>
    public int Load(IEnumerable<ConfigEntry> entries, IReadOnlyDictionary<string, long> revisions)
    {
        var loaded = 0;
        lock (_lock)
        {
            foreach (var entry in entries)
            {
                if (_options.PrefixOf(entry.Key) is not null)
                {
                    _entries[entry.Key] = new Held(entry, Untrusted: false);
                    loaded++;
                }
            }
            foreach (var (prefix, revision) in revisions)
            {
                if (_prefixes.TryGetValue(prefix, out var state))
                {
                    state.Revision = Math.Max(state.Revision, revision);
                }
            }
        }
        return loaded;
    }

    /// <summary>
    /// A complete snapshot of <paramref name="prefix"/> at <paramref name="revision"/> replaces what
    /// is held, except that a held value the snapshot lacks without a tombstone is kept, untrusted.
    /// </summary>
    public ConfigApplyResult ApplyResync(string prefix, IReadOnlyList<ConfigEntry> snapshot, long revision)
    {
        lock (_lock)
        {
            var state = _prefixes[prefix];
            if (revision < state.Revision)
            {
                return RefuseLocked(state, revision);
            }
            List<string> untrusted = [];
            List<string> older = [];
            var changed = false;
            var named = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in snapshot)
            {
                if (!entry.Key.StartsWith(prefix, StringComparison.Ordinal) || !named.Add(entry.Key))
                {
                    continue;
                }
                changed |= TakeLocked(entry, older);
            }
            foreach (var (key, held) in _entries.Where(pair => pair.Key.StartsWith(prefix, StringComparison.Ordinal) && !named.Contains(pair.Key)).ToList())
            {
                // A tombstone the snapshot lacks is kept as it is: it is not a value anyone could lose.
                if (!held.Entry.Deleted)
                {
                    _entries[key] = held with { Untrusted = true };
                    untrusted.Add(key);
                }
            }
            ConfirmLocked(state, revision);
            return new ConfigApplyResult(false, untrusted, older, changed);
        }
    }

    /// <summary>One change (a value or a tombstone) at its revision.</summary>
    public ConfigApplyResult ApplyChange(string prefix, ConfigEntry entry)
    {
        lock (_lock)
        {
            var state = _prefixes[prefix];
            if (!entry.Key.StartsWith(prefix, StringComparison.Ordinal))
            {
                return ConfigApplyResult.Nothing;
            }
            if (entry.Version <= state.Revision)
            {
                // The same change again (a resumed stream that repeats one) changes nothing but names the
                // key again; any other change at or below a revision already seen means the store went back.
                if (_entries.TryGetValue(entry.Key, out var same) && same.Entry == entry)
                {
                    _entries[entry.Key] = same with { Untrusted = false };
                    return ConfigApplyResult.Nothing;
                }
                return RefuseLocked(state, entry.Version);
            }
            List<string> older = [];
            var changed = TakeLocked(entry, older);
            ConfirmLocked(state, entry.Version);
            return new ConfigApplyResult(false, [], older, changed);
        }
    }

    /// <summary>The service says nothing changed under <paramref name="prefix"/> up to <paramref name="revision"/>.</summary>
    public ConfigApplyResult ApplyProgress(string prefix, long revision)
    {
        lock (_lock)
        {
            var state = _prefixes[prefix];
            if (revision < state.Revision)
            {
                return RefuseLocked(state, revision);
            }
            ConfirmLocked(state, revision);
            return ConfigApplyResult.Nothing;
        }
    }

    /// <summary>
    /// The service refused to resume the prefix's watch because the revision this client has seen is
    /// ahead of its store (OUT_OF_RANGE: a store restored from an old backup): nothing it would say is
    /// taken until a store that has caught up answers (R14 c).
    /// </summary>
    public ConfigApplyResult RefuseStoreBehind(string prefix)
    {
        lock (_lock)
        {
            var state = _prefixes[prefix];
            return RefuseLocked(state, 0);
        }
    }

    /// <summary>The prefix's watch failed or went quiet; returns true when it was fresh until now.</summary>
    public bool MarkStale(string prefix)
    {
        lock (_lock)
        {
            var state = _prefixes[prefix];
            var was = state.Fresh;
            state.Fresh = false;
            return was;
        }
    }

    /// <summary>Everything to keep in the cache file: every entry and each prefix's revision.</summary>
    public (IReadOnlyList<ConfigEntry> Entries, IReadOnlyDictionary<string, long> Revisions) Copy()
    {
        lock (_lock)
        {
            return ([.. _entries.Values.Select(held => held.Entry).OrderBy(entry => entry.Key, StringComparer.Ordinal)],
                _prefixes.ToDictionary(pair => pair.Key, pair => pair.Value.Revision, StringComparer.Ordinal));
        }
    }

    /// <summary>The watched prefix of <paramref name="key"/>; throws for a key no watch covers.</summary>
    public string PrefixOrThrow(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length is 0 or > ConfigClientLimits.KeyLengthMax)
        {
            throw new ArgumentException($"A configuration key is 1..{ConfigClientLimits.KeyLengthMax} characters, got '{key}'.", nameof(key));
        }
        return _options.PrefixOf(key)
            ?? throw new ArgumentException($"The key '{key}' is under none of the watched prefixes ({string.Join(", ", _options.Prefixes.Select(p => $"'{p}'"))}): add its prefix to the configuration client's options.", nameof(key));
    }

    private ConfigApplyResult RefuseLocked(PrefixState state, long revision)
    {
        state.RefusedRevision = revision;
        state.Fresh = false;
        return new ConfigApplyResult(true, [], [], false);
    }

    /// <summary>Takes one entry unless the key already holds a later version; returns whether the held content changed.</summary>
    private bool TakeLocked(ConfigEntry entry, List<string> older)
    {
        if (_entries.TryGetValue(entry.Key, out var held))
        {
            if (entry.Version < held.Entry.Version)
            {
                older.Add(entry.Key);
                return false;
            }
            if (held.Entry == entry)
            {
                if (held.Untrusted)
                {
                    _entries[entry.Key] = held with { Untrusted = false };
                }
                return false;
            }
        }
        _entries[entry.Key] = new Held(entry, Untrusted: false);
        return true;
    }

    private void ConfirmLocked(PrefixState state, long revision)
    {
        state.Revision = Math.Max(state.Revision, revision);
        state.RefusedRevision = null;
        state.Fresh = true;
        state.EverConfirmed = true;
        state.LastConfirmedTimestamp = _time.GetTimestamp();
    }

    private sealed record Held(ConfigEntry Entry, bool Untrusted);

    private sealed class PrefixState
    {
        public long Revision { get; set; }

        public bool Fresh { get; set; }

        public bool EverConfirmed { get; set; }

        public long? RefusedRevision { get; set; }

        public long LastConfirmedTimestamp { get; set; }
    }
}
