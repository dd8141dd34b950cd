namespace Bulwark.Platform.Configuration;

/// <summary>
/// One configuration key read as a typed value, the way consumers should read configuration:
/// <see cref="Current"/> is the last stored value that the parse function accepted, the default
/// when the key was never set or was deleted (a tombstone seen). A value the parse function refuses
/// (it throws: malformed or invalid) is not taken: the last good value stays, and the refusal is
/// counted (<c>bulwark.config.client.malformed_values</c>), logged and alerted on. Unknown answers
/// (the service away, an untrusted not-found, a revision that went back) change nothing: the last
/// good value stays. The internal edge reads its allowed network ranges this way ("malformed ranges
/// in configuration: keep the last good ranges, alert"). Made by <see cref="ConfigValues.Setting{T}"/>.
/// </summary>
public sealed class ConfigSetting<T> : IDisposable
{
    private readonly ConfigValues _values;
    private readonly Func<string, T> _parse;
    private readonly T _default;
    private readonly IDisposable _subscription;
    private State _state;

    internal ConfigSetting(ConfigValues values, string key, Func<string, T> parse, T defaultValue)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(parse);
        _values = values;
        _parse = parse;
        _default = defaultValue;
        Key = key;
        _state = new State(defaultValue, null, null);
        // Called at once with the current answer: a value from the cache file is taken before this returns.
        _subscription = values.Watch(key, OnAnswer);
    }

    public string Key { get; }

    /// <summary>The value to act on: the last good one, or the default.</summary>
    public T Current => Volatile.Read(ref _state).Value;

    /// <summary>The store version <see cref="Current"/> was parsed from; null while it is the default.</summary>
    public long? Version => Volatile.Read(ref _state).Version;

    /// <summary>True while the latest stored value is malformed (and <see cref="Current"/> is the last good one).</summary>
    public bool IsMalformed => Volatile.Read(ref _state).MalformedVersion is not null;

    /// <summary>Raised with the new <see cref="Current"/> each time it changes, on the client's thread.</summary>
    public event Action<T>? Changed;

    private void OnAnswer(ConfigAnswer answer)
    {
        switch (answer)
        {
            case ConfigValue value:
                Take(value);
                break;
            case ConfigDeleted:
                _values.ReportWellFormed(Key);
                if (Volatile.Read(ref _state) is { Version: null, MalformedVersion: null })
                {
                    break;
                }
                Volatile.Write(ref _state, new State(_default, null, null));
                Changed?.Invoke(_default);
                break;
            case ConfigUnknown { LastGood: { } lastGood }:
                // The last good value the client holds (from the cache file at start) is better than
                // the default; anything else about an unknown answer leaves the setting as it is.
                Take(lastGood);
                break;
            default:
                break;
        }
    }

    private void Take(ConfigValue value)
    {
        var state = Volatile.Read(ref _state);
        if (value.Version == state.Version || value.Version == state.MalformedVersion)
        {
            return;
        }
        T parsed;
        try
        {
            parsed = _parse(value.Text);
        }
#pragma warning disable CA1031 // The parse function refuses a value by throwing whatever suits it; the refusal is counted and logged.
        catch (Exception error)
#pragma warning restore CA1031
        {
            // Reported before the state changes, so that whoever sees the new state sees the count too.
            _values.ReportMalformed(Key, value.Version, error.Message);
            Volatile.Write(ref _state, state with { MalformedVersion = value.Version });
            return;
        }
        _values.ReportWellFormed(Key);
        Volatile.Write(ref _state, new State(parsed, value.Version, null));
        Changed?.Invoke(parsed);
    }

    public void Dispose() => _subscription.Dispose();

    private sealed record State(T Value, long? Version, long? MalformedVersion);
}
