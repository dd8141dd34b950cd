using System.Collections.Concurrent;
using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Protos;
using Grpc.Core;

namespace Bulwark.Testing;

/// <summary>
/// The support service's approvals as the accounts service checks them: a credit passes only when
/// an approval for exactly it was recorded (<see cref="Approve"/>; process-wide, so a restarted host
/// sees what the first one did), and every check fails UNAVAILABLE while <see cref="Unavailable"/> is set.
/// </summary>
public sealed class FakeApprovals : IApprovalVerifier
{
    private static readonly ConcurrentDictionary<string, (ApprovedCredit Credit, string Original)> Approved = new(StringComparer.Ordinal);

    public bool Unavailable { get; set; }

    public int Checks => Volatile.Read(ref _checks);

    private int _checks;

    /// <summary>Records that a second staff member approved exactly this credit; answers the request.</summary>
    public static CreditFromBankRequest Approve(CreditFromBankRequest request, string originalTransferId = "")
    {
        ArgumentNullException.ThrowIfNull(request);
        Approved[request.ApprovalId] = (new ApprovedCredit(request.ApprovalId, request.Kind, request.CustomerId, request.AccountId, request.Amount, request.Currency), originalTransferId);
        return request;
    }

    public Task<string> VerifyAsync(ApprovedCredit credit, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _checks);
        if (Unavailable)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "support is not there"));
        }
        if (!Approved.TryGetValue(credit.ApprovalId, out var approved) || approved.Credit != credit)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"approval {credit.ApprovalId} does not allow this credit"));
        }
        return Task.FromResult(approved.Original);
    }
}
