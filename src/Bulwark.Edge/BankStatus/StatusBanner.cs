using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bulwark.Edge.BankStatus;

/// <summary>
/// The status banner the customer app shows when the bank is degraded (cards in stand-in, payments
/// delayed): stored as JSON in configuration under <see cref="Key"/>, set and cleared from the ops
/// view or by the ops monitor (<see cref="Source"/> says which), read by the customer edge through
/// the platform's configuration client (docs/guides/ops-view.md).
/// </summary>
public sealed record StatusBanner(string Level, string Message, string Source, DateTimeOffset? SetAt)
{
    /// <summary>The configuration key of the banner.</summary>
    public const string Key = "app/status-banner";

    /// <summary>The prefix the edges' configuration clients watch for it.</summary>
    public const string Prefix = "app/";

    public const string Info = "info";
    public const string Warning = "warning";
    public const string Critical = "critical";

    /// <summary>Set by a staff member in the ops view.</summary>
    public const string Manual = "manual";

    /// <summary>Set by the ops monitor because it saw the bank degraded; it clears only these.</summary>
    public const string Automatic = "automatic";

    public static readonly IReadOnlyList<string> Levels = [Info, Warning, Critical];

    /// <summary>
    /// A stored value, or an exception saying what is wrong with it (the configuration client then
    /// keeps the last good banner and counts the refusal).
    /// </summary>
    public static StatusBanner Parse(string text)
    {
        StatusBanner? banner;
        try
        {
            banner = JsonSerializer.Deserialize(text, StatusBannerJsonContext.Default.StatusBanner);
        }
        catch (JsonException error)
        {
            throw new FormatException($"{Key} is not a banner's JSON: {error.Message}", error);
        }
        if (banner is null)
        {
            throw new FormatException($"{Key} is null, not a banner.");
        }
        return banner.Validated();
    }

    /// <summary>This banner, or an exception naming the first field that is not acceptable.</summary>
    public StatusBanner Validated()
    {
        if (!Levels.Contains(Level, StringComparer.Ordinal))
        {
            throw new FormatException($"{Key}: level must be one of {string.Join(", ", Levels)}.");
        }
        if (string.IsNullOrWhiteSpace(Message) || Message.Length > StatusLimits.BannerMessageLengthMax)
        {
            throw new FormatException($"{Key}: message must be 1 to {StatusLimits.BannerMessageLengthMax} characters.");
        }
        if (Source is not (Manual or Automatic))
        {
            throw new FormatException($"{Key}: source must be {Manual} or {Automatic}.");
        }
        return this;
    }

    public string ToJson() => JsonSerializer.Serialize(this, StatusBannerJsonContext.Default.StatusBanner);
}

/// <summary>Limits of the status banner and of the status endpoint.</summary>
public static class StatusLimits
{
    /// <summary>Longest banner message: a line or two on a phone; anything longer belongs on a status page.</summary>
    public const int BannerMessageLengthMax = 280;

    /// <summary>
    /// How long browsers and proxies may reuse a <c>GET /api/v1/status</c> answer. The app polls every
    /// 30 s; 15 s keeps a banner at most 45 s late while a burst of app starts costs the edge nothing.
    /// </summary>
    public const int StatusCacheSecondsMax = 15;
}

/// <summary>What <c>GET /api/v1/status</c> answers: the banner to show (null: none).</summary>
public sealed record StatusResponse(StatusBannerView? Banner);

/// <summary>The part of a banner customers see.</summary>
public sealed record StatusBannerView(string Level, string Message);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(StatusBanner))]
[JsonSerializable(typeof(StatusResponse))]
internal sealed partial class StatusBannerJsonContext : JsonSerializerContext;
