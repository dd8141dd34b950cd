namespace Bulwark.Support.Storage;

/// <summary>
/// The maker-checker approvals (approvals.proto), kept in the support store's database beside the
/// audit log so that every state change and its audit entry are one transaction. The store knows
/// no rules beyond "a change applies only from the status the caller expects" (compare and set):
/// the state machine and who may do what are the service's (ApprovalsGrpcService).
/// </summary>
public interface IApprovalStore
{
    /// <summary>
    /// Inserts the approval and appends <paramref name="audit"/>, all or nothing — unless its maker
    /// already proposed one under the same client request id: then that one, not created.
    /// </summary>
    Task<(ApprovalRecord Approval, bool Created)> ProposeAsync(ApprovalRecord approval, AuditDraft audit, CancellationToken cancellationToken);

    Task<ApprovalRecord?> GetApprovalAsync(string approvalId, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="limit"/> approvals matching the filter, pending first, then by approval
    /// id (oldest first), after <paramref name="after"/> (null: from the first).
    /// </summary>
    Task<IReadOnlyList<ApprovalRecord>> ListApprovalsAsync(ApprovalFilter filter, ApprovalCursor? after, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the approval with <paramref name="next"/> and appends <paramref name="audit"/>, all
    /// or nothing, only while its status is still <paramref name="expected"/>. Answers the record as
    /// stored afterwards (null when there is none) and whether this call changed it.
    /// </summary>
    Task<(ApprovalRecord? Approval, bool Changed)> TransitionAsync(ApprovalRecord next, string expected, AuditDraft audit, CancellationToken cancellationToken);
}

/// <summary>
/// An approval as stored. Status is its name: pending, approved, refused, executed, failed, expired.
/// The maker's client request id makes a proposal idempotent.
/// </summary>
public sealed record ApprovalRecord(
    string ApprovalId,
    string Kind,
    string CustomerId,
    string AccountId,
    long Amount,
    string Currency,
    string Reason,
    string OriginalTransferId,
    string MakerStaffId,
    string ClientRequestId,
    long ProposedAtUnixMs,
    long ExpiresAtUnixMs)
{
    public string Status { get; init; } = ApprovalStatuses.Pending;

    public string CheckerStaffId { get; init; } = "";

    public long DecidedAtUnixMs { get; init; }

    public string DecisionReason { get; init; } = "";

    public string TransferId { get; init; } = "";

    public string FailureReason { get; init; } = "";

    public long ExecutedAtUnixMs { get; init; }
}

public static class ApprovalStatuses
{
    public const string Pending = "pending";
    public const string Approved = "approved";
    public const string Refused = "refused";
    public const string Executed = "executed";
    public const string Failed = "failed";
    public const string Expired = "expired";
}

/// <summary>Which approvals a list wants; null means any.</summary>
public sealed record ApprovalFilter(string? Status, string? CustomerId);

/// <summary>Where a page ended: whether that approval was pending (pending ones come first) and its id.</summary>
public sealed record ApprovalCursor(bool Pending, string ApprovalId);
