using System.Text.Json.Serialization;
using Bulwark.Edge.BankStatus;

namespace Bulwark.Edge.Staff.Ops;

internal sealed record OpsCardsView(string Status, double? DecisionsPerSecond, double? DeclinesPerSecond, double? DeclineRatio, double? StandInsPerSecond, double? IntervalSeconds);

internal sealed record OpsEventLogView(string Status, IReadOnlyList<OpsEventLogLag> Cells);

internal sealed record OpsCoherenceView(string Status, double? MissingSinceLastSample, IReadOnlyList<OpsCoherenceCell> Cells);

internal sealed record OpsOverviewResponse(
    DateTimeOffset At,
    double CollectSeconds,
    string? DiscoveryWhy,
    OpsConfigClient? StaffEdgeConfig,
    IReadOnlyList<OpsService> Services,
    OpsPlacement Placement,
    OpsEventLogView EventLog,
    OpsCoherenceView Coherence,
    OpsCardsView Cards,
    IReadOnlyList<OpsAlert> Alerts,
    string? Degradation,
    StatusBanner? Banner)
{
    public static OpsOverviewResponse From(OpsEvaluation evaluation, StatusBanner? banner)
    {
        var snapshot = evaluation.Snapshot;
        var rates = evaluation.Rates;
        var cardsStatus = rates.DecisionsPerSecond is not null ? "known"
            : snapshot.CardsByAddress.Count == 0 ? "unknown: no reachable card processor reports decisions"
            : "unknown: the ops monitor has not taken two samples yet";
        return new OpsOverviewResponse(snapshot.At, snapshot.CollectSeconds, snapshot.DiscoveryWhy, snapshot.StaffEdgeConfig, snapshot.Services, snapshot.Placement,
            new OpsEventLogView(snapshot.EventLogLagStatus, snapshot.EventLogLag),
            new OpsCoherenceView(snapshot.CoherenceStatus, rates.CoherenceMissingNew, snapshot.Coherence),
            new OpsCardsView(cardsStatus, rates.DecisionsPerSecond, rates.DeclinesPerSecond, rates.DeclineRatio, rates.StandInsPerSecond, rates.IntervalSeconds),
            evaluation.Alerts, evaluation.Degradation, banner);
    }
}

internal sealed record OpsSeriesResponse(double IntervalSeconds, double WindowSeconds, IReadOnlyList<OpsPoint> Points);

internal sealed record OpsBannerResponse(StatusBanner Banner, long Version);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(OpsOverviewResponse))]
[JsonSerializable(typeof(OpsSeriesResponse))]
[JsonSerializable(typeof(OpsBannerResponse))]
internal sealed partial class OpsJsonContext : JsonSerializerContext;
