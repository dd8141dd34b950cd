using Bulwark.Support.Storage;

namespace Bulwark.Support.Tests.Storage;

/// <summary>
/// What every <see cref="IApprovalStore"/> must do, whatever database is behind it: the SQLite and
/// the PostgreSQL store both run it. Changes apply only from the expected status (compare and set),
/// each with its audit entry in the same transaction.
/// </summary>
public abstract class ApprovalStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    protected abstract IApprovalStore Store { get; }

    protected abstract ISupportStore Audit { get; }

    private static ApprovalRecord NewApproval(string? maker = null, string? requestId = null, string? customerId = null) =>
        new(Guid.CreateVersion7().ToString("D"), "refund", customerId ?? Guid.NewGuid().ToString("D"), Guid.NewGuid().ToString("D"), 1_250, "GBP",
            "charged twice", "0123456789abcdef0123456789abcdef", maker ?? Guid.NewGuid().ToString("D"), requestId ?? Guid.NewGuid().ToString("N"), 1_000, 2_000);

    private static AuditDraft Draft(string action, string subject) => new(1_000, "operator", action, subject, "why", "{}", "10.0.0.7");

    private async Task<int> AuditCountAsync(string subject) =>
        (await Audit.ListAuditAsync(new AuditFilter(null, subject, null, 0, 0, 0), 1_000, None)).Count;

    [Fact]
    public async Task Propose_ThenGet_RoundTripsEveryField_AndAuditsOnce()
    {
        var approval = NewApproval();

        var (stored, created) = await Store.ProposeAsync(approval, Draft("approval.proposed", approval.CustomerId), None);

        Assert.True(created);
        Assert.Equal(approval, stored);
        Assert.Equal(approval, await Store.GetApprovalAsync(approval.ApprovalId, None));
        Assert.Equal(1, await AuditCountAsync(approval.CustomerId));
        Assert.Null(await Store.GetApprovalAsync(Guid.NewGuid().ToString("D"), None));
    }

    [Fact]
    public async Task Propose_SameMakerAndRequestId_AnswersTheFirst_AndAuditsNothingMore()
    {
        var first = NewApproval();
        await Store.ProposeAsync(first, Draft("approval.proposed", first.CustomerId), None);
        var retry = NewApproval(first.MakerStaffId, first.ClientRequestId, first.CustomerId);

        var (stored, created) = await Store.ProposeAsync(retry, Draft("approval.proposed", first.CustomerId), None);

        Assert.False(created);
        Assert.Equal(first, stored);
        Assert.Null(await Store.GetApprovalAsync(retry.ApprovalId, None));
        Assert.Equal(1, await AuditCountAsync(first.CustomerId));
    }

    [Fact]
    public async Task Propose_ConcurrentRetries_CreateOne()
    {
        var first = NewApproval();
        var attempts = Enumerable.Range(0, 8).Select(_ => NewApproval(first.MakerStaffId, first.ClientRequestId, first.CustomerId)).ToList();

        var results = await Task.WhenAll(attempts.Select(attempt => Store.ProposeAsync(attempt, Draft("approval.proposed", first.CustomerId), None)));

        Assert.Single(results, result => result.Created);
        Assert.Single(results.Select(result => result.Approval.ApprovalId).Distinct());
        Assert.Equal(1, await AuditCountAsync(first.CustomerId));
    }

    [Fact]
    public async Task Transition_FromTheExpectedStatus_ChangesAndAudits_FromAnotherChangesNothing()
    {
        var approval = NewApproval();
        await Store.ProposeAsync(approval, Draft("approval.proposed", approval.CustomerId), None);
        var approved = approval with { Status = ApprovalStatuses.Approved, CheckerStaffId = Guid.NewGuid().ToString("D"), DecidedAtUnixMs = 1_500 };

        var (stored, changed) = await Store.TransitionAsync(approved, ApprovalStatuses.Pending, Draft("approval.approved", approval.CustomerId), None);
        var refused = approval with { Status = ApprovalStatuses.Refused, DecisionReason = "no" };
        var (after, changedAgain) = await Store.TransitionAsync(refused, ApprovalStatuses.Pending, Draft("approval.refused", approval.CustomerId), None);

        Assert.True(changed);
        Assert.Equal(approved, stored);
        Assert.False(changedAgain);
        Assert.Equal(approved, after);
        Assert.Equal(2, await AuditCountAsync(approval.CustomerId));
        var (missing, changedMissing) = await Store.TransitionAsync(NewApproval(), ApprovalStatuses.Pending, Draft("approval.approved", "nobody"), None);
        Assert.Null(missing);
        Assert.False(changedMissing);
    }

    [Fact]
    public async Task Transition_RacingCheckers_OneWins()
    {
        var approval = NewApproval();
        await Store.ProposeAsync(approval, Draft("approval.proposed", approval.CustomerId), None);

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => Store.TransitionAsync(
            approval with { Status = ApprovalStatuses.Approved, CheckerStaffId = $"checker-{i}" }, ApprovalStatuses.Pending,
            Draft("approval.approved", approval.CustomerId), None)));

        Assert.Single(results, result => result.Changed);
        Assert.Single(results.Select(result => result.Approval!.CheckerStaffId).Distinct());
        Assert.Equal(2, await AuditCountAsync(approval.CustomerId));
    }

    [Fact]
    public async Task ListApprovals_PendingFirst_FilteredAndPaged()
    {
        var customer = Guid.NewGuid().ToString("D");
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var approval = NewApproval(customerId: customer);
            await Store.ProposeAsync(approval, Draft("approval.proposed", customer), None);
            ids.Add(approval.ApprovalId);
        }
        // The store orders by id; version-7 ids made in one millisecond are random in their low bits, not in the
        // order they were made, so the expected order is the ids' own.
        ids.Sort(StringComparer.Ordinal);
        // The two oldest are decided: they come after the pending ones.
        foreach (var id in ids.Take(2))
        {
            var approval = (await Store.GetApprovalAsync(id, None))!;
            await Store.TransitionAsync(approval with { Status = ApprovalStatuses.Refused }, ApprovalStatuses.Pending, Draft("approval.refused", customer), None);
        }
        var filter = new ApprovalFilter(null, customer);

        var first = await Store.ListApprovalsAsync(filter, null, 2, None);
        var second = await Store.ListApprovalsAsync(filter, new ApprovalCursor(first[^1].Status == ApprovalStatuses.Pending, first[^1].ApprovalId), 2, None);
        var third = await Store.ListApprovalsAsync(filter, new ApprovalCursor(second[^1].Status == ApprovalStatuses.Pending, second[^1].ApprovalId), 2, None);

        Assert.Equal([ids[2], ids[3], ids[4], ids[0], ids[1]], first.Concat(second).Concat(third).Select(approval => approval.ApprovalId));
        Assert.Equal([ids[2], ids[3], ids[4]], (await Store.ListApprovalsAsync(new ApprovalFilter(ApprovalStatuses.Pending, customer), null, 10, None)).Select(a => a.ApprovalId));
        Assert.Equal([ids[0], ids[1]], (await Store.ListApprovalsAsync(new ApprovalFilter(ApprovalStatuses.Refused, customer), null, 10, None)).Select(a => a.ApprovalId));
        Assert.Empty(await Store.ListApprovalsAsync(new ApprovalFilter(null, Guid.NewGuid().ToString("D")), null, 10, None));
    }
}
