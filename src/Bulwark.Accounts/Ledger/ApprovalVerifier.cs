using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Validation;
using Bulwark.Support.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Ledger;

/// <summary>The money a CreditFromBank call asks to move, as its approval must say it.</summary>
public sealed record ApprovedCredit(string ApprovalId, BankCreditKind Kind, string CustomerId, string AccountId, long Amount, string Currency);

/// <summary>
/// Checks that a bank credit was approved by a second staff member before any money moves: the
/// accounts service does not take the caller's word for it, so maker-checker holds even against a
/// caller that is not the staff edge (docs/concepts/staff-and-audit.md#approvals). Throws the
/// RpcException to answer: PERMISSION_DENIED when the approval does not allow this credit,
/// UNAVAILABLE when it cannot be asked (retrying is safe). Answers the transfer a refund's approval
/// names as the one it refunds ("" for a goodwill credit): the approval, not the caller, says which.
/// </summary>
public interface IApprovalVerifier
{
    Task<string> VerifyAsync(ApprovedCredit credit, CancellationToken cancellationToken);
}

/// <summary>Asks the support service, which owns approvals (<c>Approvals.Get</c>).</summary>
internal sealed class SupportApprovalVerifier(Approvals.ApprovalsClient approvals) : IApprovalVerifier
{
    public const string Service = "support";

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    public async Task<string> VerifyAsync(ApprovedCredit credit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(credit);
        Approval approval;
        try
        {
            approval = await approvals.GetAsync(new GetApprovalRequest { ApprovalId = credit.ApprovalId },
                deadline: DateTime.UtcNow.Add(CallTimeout), cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            throw AccountsErrors.PermissionDenied($"There is no approval {credit.ApprovalId}: a credit from the bank needs one.");
        }
        catch (RpcException error) when (error.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted)
        {
            throw AccountsErrors.Unavailable($"The approval {credit.ApprovalId} cannot be checked now (support: {error.Status.Detail}); nothing moved, try again.");
        }
        // Executed too: the credit is being executed again after a crash between the ledger and its record.
        if (approval.Status is not (ApprovalStatus.Approved or ApprovalStatus.Executed))
        {
            throw AccountsErrors.PermissionDenied($"Approval {credit.ApprovalId} is {approval.Status}, not approved: nothing moved.");
        }
        var kind = approval.Kind switch
        {
            ApprovalKind.GoodwillCredit => BankCreditKind.GoodwillCredit,
            ApprovalKind.Refund => BankCreditKind.Refund,
            _ => BankCreditKind.Unspecified,
        };
        if (kind != credit.Kind || approval.CustomerId != credit.CustomerId || approval.AccountId != credit.AccountId
            || approval.Amount != credit.Amount || approval.Currency != credit.Currency)
        {
            throw AccountsErrors.PermissionDenied($"Approval {credit.ApprovalId} approved another credit (kind, customer, account, amount or currency differ): nothing moved.");
        }
        return approval.OriginalTransferId;
    }
}
