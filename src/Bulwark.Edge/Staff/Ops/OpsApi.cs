using System.Globalization;
using Bulwark.Edge.Api;
using Bulwark.Edge.BankStatus;
using Bulwark.Edge.Problems;
using Bulwark.Edge.Services;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Bulwark.Edge.Staff.Ops;

/// <summary>
/// The ops view's API under <c>/staff/api/ops</c>, operations role only: the overview, the charts'
/// series, and the status banner. Changing the banner is audited (<c>banner.set</c>,
/// <c>banner.cleared</c>) before it is made, so an audit log that cannot be written stops it; looking at
/// the overview is not (it shows the bank's machinery, no customer, and browsers poll it).
/// </summary>
internal sealed class OpsApi(OpsOverview overview, OpsSeries series, OpsOptions options, IStatusBannerStore store, IStatusBannerSource banner, IStaffAuditLog audit, TimeProvider time)
{
    public const string AuditSubject = StatusBanner.Key;

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var ops = endpoints.MapGroup(StaffPaths.Api + "/ops")
            .AddEndpointFilter(AppApiEndpoints.ProblemFilterAsync)
            .RequireAuthorization(StaffPolicies.OperationsOnly);
        ops.MapGet("/overview", (HttpContext http, OpsApi api) => api.OverviewAsync(http));
        ops.MapGet("/series", (OpsApi api) => api.Series());
        ops.MapPut("/banner", (HttpContext http, OpsApi api) => api.SetBannerAsync(http));
        ops.MapDelete("/banner", (HttpContext http, OpsApi api) => api.ClearBannerAsync(http));
    }

    public async Task<IResult> OverviewAsync(HttpContext http)
    {
        var evaluation = await overview.GetAsync(http.RequestAborted);
        return TypedResults.Json(OpsOverviewResponse.From(evaluation, banner.Current), OpsJsonContext.Default.OpsOverviewResponse);
    }

    public IResult Series() => TypedResults.Json(new OpsSeriesResponse(options.SampleInterval.TotalSeconds, options.SeriesWindow.TotalSeconds, series.Points()),
        OpsJsonContext.Default.OpsSeriesResponse);

    public async Task<IResult> SetBannerAsync(HttpContext http)
    {
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var fields = new RequestFields(body.RootElement);
        var level = fields.RequiredString("level", 16);
        var message = fields.RequiredString("message", StatusLimits.BannerMessageLengthMax);
        var reason = fields.OptionalString("reason", OpsLimits.BannerReasonLengthMax);
        if (level is not null && !StatusBanner.Levels.Contains(level, StringComparer.Ordinal))
        {
            fields.Fail("level", $"level must be one of {string.Join(", ", StatusBanner.Levels)}.");
        }
        if (message is not null && string.IsNullOrWhiteSpace(message))
        {
            fields.Fail("message", "message must say something.");
        }
        fields.ThrowIfInvalid();

        var actor = StaffActor.From(http);
        var set = new StatusBanner(level!, message!.Trim(), StatusBanner.Manual, time.GetUtcNow());
        var why = string.IsNullOrWhiteSpace(reason) ? "set from the ops view" : reason.Trim();
        var stored = await store.ReadAsync(http.RequestAborted);
        var sequence = await audit.AppendAsync(actor, "banner.set", AuditSubject, why,
            new Dictionary<string, string> { ["level"] = set.Level, ["message"] = set.Message, ["replaces_version"] = stored.Version.ToString(CultureInfo.InvariantCulture) },
            http.RequestAborted);
        long version;
        try
        {
            version = await store.PutAsync(set, stored.Version, ChangedBy(actor), why, http.RequestAborted);
        }
        catch (BannerConflictException)
        {
            await RecordConflictAsync(actor, "banner.set", why, sequence);
            throw new ProblemException(ProblemType.Conflict, "The banner changed while you were setting it (the ops monitor or another member); look at it again and retry.");
        }
        return TypedResults.Json(new OpsBannerResponse(set, version), OpsJsonContext.Default.OpsBannerResponse);
    }

    public async Task<IResult> ClearBannerAsync(HttpContext http)
    {
        var actor = StaffActor.From(http);
        var reason = http.Request.Query["reason"].ToString();
        var why = string.IsNullOrWhiteSpace(reason) ? "cleared from the ops view" : reason.Trim()[..Math.Min(reason.Trim().Length, OpsLimits.BannerReasonLengthMax)];
        var stored = await store.ReadAsync(http.RequestAborted);
        if (!stored.HoldsValue)
        {
            return TypedResults.NoContent();
        }
        var sequence = await audit.AppendAsync(actor, "banner.cleared", AuditSubject, why,
            new Dictionary<string, string> { ["version"] = stored.Version.ToString(CultureInfo.InvariantCulture), ["message"] = stored.Banner?.Message ?? "(not a banner)" },
            http.RequestAborted);
        try
        {
            await store.DeleteAsync(stored.Version, ChangedBy(actor), why, http.RequestAborted);
        }
        catch (BannerConflictException)
        {
            await RecordConflictAsync(actor, "banner.cleared", why, sequence);
            throw new ProblemException(ProblemType.Conflict, "The banner changed while you were clearing it; look at it again and retry.");
        }
        return TypedResults.NoContent();
    }

    /// <summary>
    /// The change audited before it was made did not happen (another change came first): the log
    /// says so (<c>ACTION_failed</c>, naming the entry), best effort on a bounded token of its own.
    /// </summary>
    private async Task RecordConflictAsync(StaffActor actor, string action, string why, long sequence)
    {
        try
        {
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await audit.AppendAsync(actor, action + "_failed", AuditSubject, why, new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["auditSequence"] = sequence.ToString(CultureInfo.InvariantCulture),
                ["status"] = "conflict",
            }, bounded.Token);
        }
        catch (Exception failure) when (failure is ServiceCallException or OperationCanceledException)
        {
            // The answer (409) still says it did not happen; the entry before it says it was tried.
        }
    }

    /// <summary>The configuration change's changed_by: who, by name and staff id, through which door.</summary>
    private static string ChangedBy(StaffActor actor) => $"{actor.Name} <{actor.StaffId}> via the staff edge";
}
