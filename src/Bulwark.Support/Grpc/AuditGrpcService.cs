using System.Globalization;
using Bulwark.Support.Protos;
using Bulwark.Support.Storage;
using Bulwark.Support.Telemetry;
using Bulwark.Support.Validation;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Support.Grpc;

/// <summary>
/// The audit log's gRPC contract (support.proto, service Audit): append, list newest first, and
/// verify the hash chain. There is no method that changes or removes an entry.
/// </summary>
internal sealed partial class AuditGrpcService(
    ISupportStore store,
    StaffActors actors,
    SupportMetrics metrics,
    TimeProvider time,
    ILogger<AuditGrpcService> logger) : Protos.Audit.AuditBase
{
    public override async Task<AuditEntry> Append(AppendAuditRequest request, ServerCallContext context)
    {
        var action = RequestFields.Action(request.Action, "action");
        var subject = RequestFields.Text(request.Subject, "subject", SupportLimits.SubjectLengthMax, required: false);
        var reason = RequestFields.Text(request.Reason, "reason", SupportLimits.ReasonLengthMax, required: true);
        var details = RequestFields.DetailsJson(request.DetailsJson, "details_json");
        var source = RequestFields.SourceAddress(request.SourceAddress, "source_address");
        var cancellationToken = context.CancellationToken;
        var actor = await actors.EnabledAsync(request.ActorStaffId, cancellationToken);
        var entry = await store.AppendAuditAsync(new AuditDraft(time.GetUtcNow().ToUnixTimeMilliseconds(), actor.StaffId, action, subject, reason, details, source), cancellationToken);
        metrics.RecordAuditAppend(action);
        return SupportViews.ToProto(entry);
    }

    public override async Task<ListAuditResponse> List(ListAuditRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > SupportLimits.ListAuditLimitMax)
        {
            throw SupportErrors.Invalid("limit", string.Create(CultureInfo.InvariantCulture,
                $"must be 0 (default {SupportLimits.ListAuditLimitDefault}) to {SupportLimits.ListAuditLimitMax}, not {request.Limit}"));
        }
        if (request.FromUnixMs < 0 || request.ToUnixMs < 0 || (request.ToUnixMs > 0 && request.ToUnixMs <= request.FromUnixMs))
        {
            throw SupportErrors.Invalid("to_unix_ms", "must be 0 (up to now) or after from_unix_ms");
        }
        if (request.BeforeSequence < 0)
        {
            throw SupportErrors.Invalid("before_sequence", "must not be negative");
        }
        var filter = new AuditFilter(
            RequestFields.Text(request.Actor, "actor", SupportLimits.SubjectLengthMax, required: false),
            RequestFields.Text(request.Subject, "subject", SupportLimits.SubjectLengthMax, required: false),
            request.Action.Length == 0 ? "" : RequestFields.Action(request.Action, "action"),
            request.FromUnixMs, request.ToUnixMs, request.BeforeSequence);
        var limit = request.Limit == 0 ? SupportLimits.ListAuditLimitDefault : request.Limit;
        var entries = await store.ListAuditAsync(filter, limit + 1, context.CancellationToken);
        var response = new ListAuditResponse();
        response.Entries.Add(entries.Take(limit).Select(SupportViews.ToProto));
        if (entries.Count > limit)
        {
            response.NextBeforeSequence = entries[limit - 1].Sequence;
        }
        return response;
    }

    public override async Task<VerifyAuditResponse> Verify(VerifyAuditRequest request, ServerCallContext context)
    {
        var result = await AuditChain.VerifyAsync(store, SupportLimits.AuditVerifyPageEntries, context.CancellationToken);
        if (!result.Intact)
        {
            LogChainBroken(result.BrokenSequence, result.Problem);
        }
        return new VerifyAuditResponse
        {
            Intact = result.Intact,
            EntriesChecked = result.EntriesChecked,
            HeadSequence = result.HeadSequence,
            HeadHash = result.HeadHash,
            BrokenSequence = result.BrokenSequence,
            Problem = result.Problem,
        };
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Critical, Message = "The audit log's hash chain is broken at entry {Sequence}: {Problem}")]
    private partial void LogChainBroken(long sequence, string problem);
}
