using System.Globalization;
using System.Text.Json;
using Bulwark.Support.Protos;
using Bulwark.Support.Storage;
using Bulwark.Support.Telemetry;
using Bulwark.Support.Validation;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Support.Grpc;

/// <summary>
/// Maker-checker approvals (approvals.proto): support or operations propose a goodwill credit or a
/// refund; another member, with operations, approves or refuses it; whoever approved records its
/// execution. The state machine lives here and nowhere else; the store applies each change only
/// from the status read (compare and set), with its audit entry in the same transaction, so two
/// racing checkers cannot both approve and nothing changes unaudited.
/// </summary>
internal sealed partial class ApprovalsGrpcService(
    IApprovalStore store,
    StaffActors actors,
    SupportMetrics metrics,
    TimeProvider time,
    ILogger<ApprovalsGrpcService> logger) : Approvals.ApprovalsBase
{
    public const string OwnApprovalRule = "own-approval";
    public const string NotPendingRule = "not-pending";
    public const string ExpiredRule = "expired";
    public const string NotApprovedRule = "not-approved";

    private static readonly string[] MakerRoles = ["support", "operations"];
    private static readonly string[] CheckerRoles = ["operations"];

    private long NowUnixMs() => time.GetUtcNow().ToUnixTimeMilliseconds();

    public override async Task<Approval> Propose(ProposeApprovalRequest request, ServerCallContext context)
    {
        var kind = ApprovalFields.Kind(request.Kind, "kind");
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var accountId = RequestFields.Id(request.AccountId, "account_id");
        var amount = ApprovalFields.Amount(request.Amount, "amount");
        var currency = ApprovalFields.Currency(request.Currency, "currency");
        var reason = RequestFields.Text(request.Reason, "reason", SupportLimits.ReasonLengthMax, required: true);
        var original = ApprovalFields.OriginalTransferId(request.OriginalTransferId, "original_transfer_id", kind);
        var source = RequestFields.SourceAddress(request.SourceAddress, "source_address");
        var clientRequestId = ApprovalFields.ClientRequestId(request.ClientRequestId, "client_request_id");
        var cancellationToken = context.CancellationToken;
        var maker = await actors.WithRoleAsync(request.MakerStaffId, "maker_staff_id", "propose a money movement", MakerRoles, cancellationToken);
        var now = NowUnixMs();
        var approval = new ApprovalRecord(Guid.CreateVersion7(time.GetUtcNow()).ToString("D"), kind, customerId, accountId, amount, currency, reason, original,
            maker.StaffId, clientRequestId, now, now + (SupportLimits.ApprovalExpiryDays * 86_400_000L));
        var (stored, created) = await store.ProposeAsync(approval, Audit(approval, maker.StaffId, "approval.proposed", reason, source, now), cancellationToken);
        if (!created && !SameProposal(stored, approval))
        {
            throw SupportErrors.AlreadyExists("client_request_id was already used for a different proposal; a new proposal needs a new id.");
        }
        if (created)
        {
            metrics.RecordAuditAppend("approval.proposed");
            LogProposed(stored.ApprovalId, kind, stored.Amount, stored.Currency, maker.StaffId);
        }
        return ApprovalViews.ToProto(stored);
    }

    public override async Task<Approval> Get(GetApprovalRequest request, ServerCallContext context)
    {
        var approvalId = RequestFields.Id(request.ApprovalId, "approval_id");
        return ApprovalViews.ToProto(await CurrentAsync(approvalId, context.CancellationToken));
    }

    public override async Task<ListApprovalsResponse> List(ListApprovalsRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > SupportLimits.ListApprovalsLimitMax)
        {
            throw SupportErrors.Invalid("limit", string.Create(CultureInfo.InvariantCulture,
                $"must be 0 (default {SupportLimits.ListApprovalsLimitDefault}) to {SupportLimits.ListApprovalsLimitMax}, not {request.Limit}"));
        }
        var status = request.Status == ApprovalStatus.Unspecified ? null
            : ApprovalViews.StatusName(request.Status) ?? throw SupportErrors.Invalid("status", "must be one of the ApprovalStatus values");
        var customerId = request.CustomerId.Length == 0 ? null : RequestFields.Id(request.CustomerId, "customer_id");
        var cursor = ApprovalFields.Cursor(request.Cursor, "cursor");
        var limit = request.Limit == 0 ? SupportLimits.ListApprovalsLimitDefault : request.Limit;
        var cancellationToken = context.CancellationToken;
        var page = await store.ListApprovalsAsync(new ApprovalFilter(status, customerId), cursor, limit + 1, cancellationToken);
        var response = new ListApprovalsResponse();
        foreach (var approval in page.Take(limit))
        {
            response.Approvals.Add(ApprovalViews.ToProto(await ExpiredIfDueAsync(approval, cancellationToken)));
        }
        if (page.Count > limit)
        {
            var last = page[limit - 1];
            response.NextCursor = (last.Status == ApprovalStatuses.Pending ? "0:" : "1:") + last.ApprovalId;
        }
        return response;
    }

    public override async Task<Approval> Approve(ApproveRequest request, ServerCallContext context)
    {
        var approvalId = RequestFields.Id(request.ApprovalId, "approval_id");
        var source = RequestFields.SourceAddress(request.SourceAddress, "source_address");
        var cancellationToken = context.CancellationToken;
        var checker = await actors.WithRoleAsync(request.CheckerStaffId, "checker_staff_id", "approve a money movement", CheckerRoles, cancellationToken);
        var approval = await CurrentAsync(approvalId, cancellationToken);
        RefuseOwn(approval, checker.StaffId, "approve");
        if (approval.Status is ApprovalStatuses.Approved or ApprovalStatuses.Executed or ApprovalStatuses.Failed && approval.CheckerStaffId == checker.StaffId)
        {
            // The same checker's retry: the decision stands; the caller executes (idempotently) or reads the outcome.
            return ApprovalViews.ToProto(approval);
        }
        RequirePending(approval, "approved");
        var now = NowUnixMs();
        var next = approval with { Status = ApprovalStatuses.Approved, CheckerStaffId = checker.StaffId, DecidedAtUnixMs = now };
        return await TransitionAsync(next, ApprovalStatuses.Pending, Audit(next, checker.StaffId, "approval.approved", approval.Reason, source, now), "approved", cancellationToken);
    }

    public override async Task<Approval> Refuse(RefuseRequest request, ServerCallContext context)
    {
        var approvalId = RequestFields.Id(request.ApprovalId, "approval_id");
        var reason = RequestFields.Text(request.Reason, "reason", SupportLimits.ReasonLengthMax, required: true);
        var source = RequestFields.SourceAddress(request.SourceAddress, "source_address");
        var cancellationToken = context.CancellationToken;
        var checker = await actors.WithRoleAsync(request.CheckerStaffId, "checker_staff_id", "refuse a money movement", CheckerRoles, cancellationToken);
        var approval = await CurrentAsync(approvalId, cancellationToken);
        RefuseOwn(approval, checker.StaffId, "refuse");
        if (approval.Status == ApprovalStatuses.Refused && approval.CheckerStaffId == checker.StaffId)
        {
            return ApprovalViews.ToProto(approval);
        }
        RequirePending(approval, "refused");
        var now = NowUnixMs();
        var next = approval with { Status = ApprovalStatuses.Refused, CheckerStaffId = checker.StaffId, DecidedAtUnixMs = now, DecisionReason = reason };
        return await TransitionAsync(next, ApprovalStatuses.Pending, Audit(next, checker.StaffId, "approval.refused", reason, source, now), "refused", cancellationToken);
    }

    public override async Task<Approval> RecordExecution(RecordExecutionRequest request, ServerCallContext context)
    {
        var approvalId = RequestFields.Id(request.ApprovalId, "approval_id");
        var (transferId, failure) = ApprovalFields.Outcome(request.TransferId, request.FailureReason);
        var source = RequestFields.SourceAddress(request.SourceAddress, "source_address");
        var cancellationToken = context.CancellationToken;
        var actor = await actors.WithRoleAsync(request.ActorStaffId, "actor_staff_id", "execute a money movement", CheckerRoles, cancellationToken);
        var approval = await CurrentAsync(approvalId, cancellationToken);
        var status = transferId.Length > 0 ? ApprovalStatuses.Executed : ApprovalStatuses.Failed;
        if (approval.Status == status && approval.TransferId == transferId && approval.FailureReason == failure)
        {
            return ApprovalViews.ToProto(approval);
        }
        if (approval.Status != ApprovalStatuses.Approved)
        {
            throw SupportErrors.Rule(NotApprovedRule, $"Approval {approvalId} is {approval.Status}: only an approved approval's execution is recorded, once.");
        }
        var now = NowUnixMs();
        var next = approval with { Status = status, TransferId = transferId, FailureReason = failure, ExecutedAtUnixMs = now };
        var action = status == ApprovalStatuses.Executed ? "approval.executed" : "approval.failed";
        return await TransitionAsync(next, ApprovalStatuses.Approved, Audit(next, actor.StaffId, action, failure.Length > 0 ? failure : approval.Reason, source, now),
            status, cancellationToken);
    }

    /// <summary>The approval as it is now: a pending one past its expiry is expired first (audited as the system's act).</summary>
    private async Task<ApprovalRecord> CurrentAsync(string approvalId, CancellationToken cancellationToken)
    {
        var approval = await store.GetApprovalAsync(approvalId, cancellationToken) ?? throw SupportErrors.NotFound($"There is no approval {approvalId}.");
        return await ExpiredIfDueAsync(approval, cancellationToken);
    }

    private async Task<ApprovalRecord> ExpiredIfDueAsync(ApprovalRecord approval, CancellationToken cancellationToken)
    {
        var now = NowUnixMs();
        if (approval.Status != ApprovalStatuses.Pending || now < approval.ExpiresAtUnixMs)
        {
            return approval;
        }
        var next = approval with { Status = ApprovalStatuses.Expired, DecidedAtUnixMs = now };
        var audit = Audit(next, RequestFields.SystemActor, "approval.expired",
            string.Create(CultureInfo.InvariantCulture, $"not decided within {SupportLimits.ApprovalExpiryDays} days"), "", now);
        var (stored, changed) = await store.TransitionAsync(next, ApprovalStatuses.Pending, audit, cancellationToken);
        if (changed)
        {
            metrics.RecordAuditAppend(audit.Action);
        }
        return stored ?? approval;
    }

    private async Task<Approval> TransitionAsync(ApprovalRecord next, string expected, AuditDraft audit, string becoming, CancellationToken cancellationToken)
    {
        var (stored, changed) = await store.TransitionAsync(next, expected, audit, cancellationToken);
        if (stored is null)
        {
            throw SupportErrors.NotFound($"There is no approval {next.ApprovalId}.");
        }
        if (!changed)
        {
            // Another request changed it between our read and our write: its answer stands, not ours.
            throw SupportErrors.Rule(NotPendingRule, $"Approval {next.ApprovalId} is {stored.Status} now (it changed meanwhile) and cannot be {becoming}.");
        }
        metrics.RecordAuditAppend(audit.Action);
        LogChanged(stored.ApprovalId, stored.Status, audit.Actor);
        return ApprovalViews.ToProto(stored);
    }

    private static void RefuseOwn(ApprovalRecord approval, string checkerStaffId, string verb)
    {
        if (approval.MakerStaffId == checkerStaffId)
        {
            throw SupportErrors.Rule(OwnApprovalRule, $"You proposed approval {approval.ApprovalId}; another operations member must {verb} it (maker-checker).");
        }
    }

    private static void RequirePending(ApprovalRecord approval, string becoming)
    {
        if (approval.Status == ApprovalStatuses.Expired)
        {
            throw SupportErrors.Rule(ExpiredRule, $"Approval {approval.ApprovalId} expired undecided; propose it again if it is still wanted.");
        }
        if (approval.Status != ApprovalStatuses.Pending)
        {
            throw SupportErrors.Rule(NotPendingRule, $"Approval {approval.ApprovalId} is {approval.Status} and cannot be {becoming}; only a pending approval is decided.");
        }
    }

    private static bool SameProposal(ApprovalRecord stored, ApprovalRecord asked) =>
        (stored.Kind, stored.CustomerId, stored.AccountId, stored.Amount, stored.Currency, stored.Reason, stored.OriginalTransferId)
        == (asked.Kind, asked.CustomerId, asked.AccountId, asked.Amount, asked.Currency, asked.Reason, asked.OriginalTransferId);

    /// <summary>An approval's audit entry: the customer is its subject (so a customer's history shows it), the approval in its details.</summary>
    private static AuditDraft Audit(ApprovalRecord approval, string actor, string action, string reason, string source, long now)
    {
        var details = new Dictionary<string, object>
        {
            ["approvalId"] = approval.ApprovalId,
            ["kind"] = approval.Kind,
            ["accountId"] = approval.AccountId,
            ["amount"] = approval.Amount,
            ["currency"] = approval.Currency,
            ["makerStaffId"] = approval.MakerStaffId,
        };
        if (approval.OriginalTransferId.Length > 0)
        {
            details["originalTransferId"] = approval.OriginalTransferId;
        }
        if (approval.TransferId.Length > 0)
        {
            details["transferId"] = approval.TransferId;
        }
        return new AuditDraft(now, actor, action, approval.CustomerId, reason, JsonSerializer.Serialize(details), source);
    }

    [LoggerMessage(EventId = 5301, Level = LogLevel.Information, Message = "Approval {ApprovalId} proposed: {Kind} of {Amount} {Currency} by {MakerStaffId}")]
    private partial void LogProposed(string approvalId, string kind, long amount, string currency, string makerStaffId);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Information, Message = "Approval {ApprovalId} is now {Status} ({Actor})")]
    private partial void LogChanged(string approvalId, string status, string actor);
}
