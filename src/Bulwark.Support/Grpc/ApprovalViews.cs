using Bulwark.Support.Protos;
using Bulwark.Support.Storage;

namespace Bulwark.Support.Grpc;

/// <summary>Approval records to contract messages, and the names the store keeps kinds and statuses under.</summary>
internal static class ApprovalViews
{
    public const string GoodwillCredit = "goodwill_credit";
    public const string Refund = "refund";

    public static Approval ToProto(ApprovalRecord approval) => new()
    {
        ApprovalId = approval.ApprovalId,
        Kind = KindOf(approval.Kind),
        Status = StatusOf(approval.Status),
        CustomerId = approval.CustomerId,
        AccountId = approval.AccountId,
        Amount = approval.Amount,
        Currency = approval.Currency,
        Reason = approval.Reason,
        OriginalTransferId = approval.OriginalTransferId,
        MakerStaffId = approval.MakerStaffId,
        ProposedAtUnixMs = approval.ProposedAtUnixMs,
        ExpiresAtUnixMs = approval.ExpiresAtUnixMs,
        CheckerStaffId = approval.CheckerStaffId,
        DecidedAtUnixMs = approval.DecidedAtUnixMs,
        DecisionReason = approval.DecisionReason,
        TransferId = approval.TransferId,
        FailureReason = approval.FailureReason,
        ExecutedAtUnixMs = approval.ExecutedAtUnixMs,
    };

    public static string? KindName(ApprovalKind kind) => kind switch
    {
        ApprovalKind.GoodwillCredit => GoodwillCredit,
        ApprovalKind.Refund => Refund,
        _ => null,
    };

    public static ApprovalKind KindOf(string name) => name switch
    {
        GoodwillCredit => ApprovalKind.GoodwillCredit,
        Refund => ApprovalKind.Refund,
        _ => ApprovalKind.Unspecified,
    };

    public static string? StatusName(ApprovalStatus status) => status switch
    {
        ApprovalStatus.Pending => ApprovalStatuses.Pending,
        ApprovalStatus.Approved => ApprovalStatuses.Approved,
        ApprovalStatus.Refused => ApprovalStatuses.Refused,
        ApprovalStatus.Executed => ApprovalStatuses.Executed,
        ApprovalStatus.Failed => ApprovalStatuses.Failed,
        ApprovalStatus.Expired => ApprovalStatuses.Expired,
        _ => null,
    };

    public static ApprovalStatus StatusOf(string name) => name switch
    {
        ApprovalStatuses.Pending => ApprovalStatus.Pending,
        ApprovalStatuses.Approved => ApprovalStatus.Approved,
        ApprovalStatuses.Refused => ApprovalStatus.Refused,
        ApprovalStatuses.Executed => ApprovalStatus.Executed,
        ApprovalStatuses.Failed => ApprovalStatus.Failed,
        ApprovalStatuses.Expired => ApprovalStatus.Expired,
        _ => ApprovalStatus.Unspecified,
    };
}
