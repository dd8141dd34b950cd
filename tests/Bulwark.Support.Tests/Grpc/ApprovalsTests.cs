using System.Text.Json;
using Bulwark.Support.Protos;
using Grpc.Core;

namespace Bulwark.Support.Tests.Grpc;

/// <summary>
/// Maker-checker approvals over real gRPC: who may propose and decide, the strict state machine,
/// and an audit entry for every change. A host of its own per test class: one test moves the clock.
/// </summary>
public sealed class ApprovalsTests(SupportHostFixture fixture) : IClassFixture<SupportHostFixture>
{
    private SupportTestHost Host => fixture.Host;

    private static ProposeApprovalRequest Proposal(string makerStaffId, ApprovalKind kind = ApprovalKind.GoodwillCredit) => new()
    {
        Kind = kind,
        CustomerId = Guid.NewGuid().ToString("D"),
        AccountId = Guid.NewGuid().ToString("D"),
        Amount = 1_500,
        Currency = "GBP",
        Reason = "card declined by our mistake",
        OriginalTransferId = kind == ApprovalKind.Refund ? "0123456789abcdef0123456789abcdef" : "",
        MakerStaffId = makerStaffId,
        SourceAddress = "10.0.0.7",
        ClientRequestId = Guid.NewGuid().ToString("N"),
    };

    private async Task<(string Maker, string Checker, Approval Approval)> ProposedAsync(ApprovalKind kind = ApprovalKind.GoodwillCredit)
    {
        var maker = (await Host.NewStaffAsync(StaffRole.Support)).Staff.StaffId;
        var checker = (await Host.NewStaffAsync(StaffRole.Operations)).Staff.StaffId;
        var approval = await Host.Approvals.ProposeAsync(Proposal(maker, kind));
        return (maker, checker, approval);
    }

    private async Task<IReadOnlyList<AuditEntry>> AuditOfAsync(Approval approval) =>
        [.. (await Host.Audit.ListAsync(new ListAuditRequest { Subject = approval.CustomerId })).Entries
            .Where(entry => JsonDocument.Parse(entry.DetailsJson).RootElement.GetProperty("approvalId").GetString() == approval.ApprovalId)
            .Reverse()];

    [Fact]
    public async Task Propose_AnswersAPendingApproval_AuditedWithTheMakerAsActor()
    {
        var maker = (await Host.NewStaffAsync(StaffRole.Support)).Staff.StaffId;
        var request = Proposal(maker, ApprovalKind.Refund);

        var approval = await Host.Approvals.ProposeAsync(request);

        Assert.Equal((ApprovalStatus.Pending, ApprovalKind.Refund, request.CustomerId, request.AccountId, 1_500L, "GBP", maker),
            (approval.Status, approval.Kind, approval.CustomerId, approval.AccountId, approval.Amount, approval.Currency, approval.MakerStaffId));
        Assert.Equal(request.OriginalTransferId, approval.OriginalTransferId);
        Assert.Equal(approval.ProposedAtUnixMs + (SupportLimits.ApprovalExpiryDays * 86_400_000L), approval.ExpiresAtUnixMs);
        var entry = Assert.Single(await AuditOfAsync(approval));
        Assert.Equal(("approval.proposed", maker, "10.0.0.7", request.Reason), (entry.Action, entry.Actor, entry.SourceAddress, entry.Reason));
        Assert.Equal(approval, await Host.Approvals.GetAsync(new GetApprovalRequest { ApprovalId = approval.ApprovalId }));
    }

    [Fact]
    public async Task Propose_Retried_AnswersTheSameApproval_AndADifferentProposalUnderTheSameIdIsAlreadyExists()
    {
        var maker = (await Host.NewStaffAsync(StaffRole.Operations)).Staff.StaffId;
        var request = Proposal(maker);

        var first = await Host.Approvals.ProposeAsync(request);
        var retry = await Host.Approvals.ProposeAsync(request);
        var changed = request.Clone();
        changed.Amount = 2_000;

        Assert.Equal(first, retry);
        Assert.Single(await AuditOfAsync(first));
        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Host.Approvals.ProposeAsync(changed).ResponseAsync);
    }

    [Theory]
    [InlineData("kind")]
    [InlineData("customer_id")]
    [InlineData("account_id")]
    [InlineData("amount")]
    [InlineData("amount_over_limit")]
    [InlineData("currency")]
    [InlineData("reason")]
    [InlineData("original_transfer_id")]
    [InlineData("original_transfer_id_on_goodwill")]
    [InlineData("client_request_id")]
    [InlineData("maker_staff_id")]
    public async Task Propose_BadField_InvalidArgumentNamingIt(string bad)
    {
        var maker = (await Host.NewStaffAsync(StaffRole.Support)).Staff.StaffId;
        var request = Proposal(maker, bad == "original_transfer_id" ? ApprovalKind.Refund : ApprovalKind.GoodwillCredit);
        var field = bad;
        switch (bad)
        {
            case "kind": request.Kind = ApprovalKind.Unspecified; break;
            case "customer_id": request.CustomerId = "not-a-uuid"; break;
            case "account_id": request.AccountId = ""; break;
            case "amount": request.Amount = 0; break;
            case "amount_over_limit": request.Amount = SupportLimits.ApprovalAmountMax + 1; field = "amount"; break;
            case "currency": request.Currency = "gbp"; break;
            case "reason": request.Reason = "   "; break;
            case "original_transfer_id": request.OriginalTransferId = ""; break;
            case "original_transfer_id_on_goodwill": request.OriginalTransferId = "abc"; field = "original_transfer_id"; break;
            case "client_request_id": request.ClientRequestId = "xyz"; break;
            case "maker_staff_id": request.MakerStaffId = ""; break;
        }

        await RpcAssert.InvalidAsync(field, () => Host.Approvals.ProposeAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task Propose_ByAnAdminWithoutSupportOrOperations_PermissionDenied()
    {
        var admin = (await Host.NewStaffAsync(StaffRole.Admin)).Staff.StaffId;

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Approvals.ProposeAsync(Proposal(admin)).ResponseAsync);
    }

    [Fact]
    public async Task Approve_ByTheMaker_RefusedAsOwnApproval_AndStaysPending()
    {
        var maker = (await Host.NewStaffAsync(StaffRole.Operations)).Staff.StaffId;
        var approval = await Host.Approvals.ProposeAsync(Proposal(maker));

        var error = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition,
            () => Host.Approvals.ApproveAsync(new ApproveRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = maker }).ResponseAsync);
        var refuseError = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition,
            () => Host.Approvals.RefuseAsync(new RefuseRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = maker, Reason = "changed my mind" }).ResponseAsync);

        Assert.Equal("own-approval", error.Trailers.GetValue("bulwark-rule"));
        Assert.Equal("own-approval", refuseError.Trailers.GetValue("bulwark-rule"));
        Assert.Contains("another operations member", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(ApprovalStatus.Pending, (await Host.Approvals.GetAsync(new GetApprovalRequest { ApprovalId = approval.ApprovalId })).Status);
        Assert.Single(await AuditOfAsync(approval));
    }

    [Fact]
    public async Task Approve_BySupport_PermissionDenied()
    {
        var (_, _, approval) = await ProposedAsync();
        var support = (await Host.NewStaffAsync(StaffRole.Support)).Staff.StaffId;

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied,
            () => Host.Approvals.ApproveAsync(new ApproveRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = support }).ResponseAsync);
    }

    [Fact]
    public async Task Approve_Twice_TheSameCheckersRetryAnswersUnchanged_AnotherCheckerIsRefused()
    {
        var (_, checker, approval) = await ProposedAsync();
        var other = (await Host.NewStaffAsync(StaffRole.Operations)).Staff.StaffId;

        var approved = await Host.Approvals.ApproveAsync(new ApproveRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = checker, SourceAddress = "10.0.0.8" });
        var retried = await Host.Approvals.ApproveAsync(new ApproveRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = checker });
        var error = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition,
            () => Host.Approvals.ApproveAsync(new ApproveRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = other }).ResponseAsync);

        Assert.Equal((ApprovalStatus.Approved, checker), (approved.Status, approved.CheckerStaffId));
        Assert.Equal(approved, retried);
        Assert.Equal("not-pending", error.Trailers.GetValue("bulwark-rule"));
        Assert.Equal(["approval.proposed", "approval.approved"], (await AuditOfAsync(approval)).Select(entry => entry.Action));
    }

    [Fact]
    public async Task Refuse_ThenApprove_Refused_AndTheReasonIsKept()
    {
        var (_, checker, approval) = await ProposedAsync();

        var refused = await Host.Approvals.RefuseAsync(new RefuseRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = checker, Reason = "not our mistake" });
        var error = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition,
            () => Host.Approvals.ApproveAsync(new ApproveRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = checker }).ResponseAsync);

        Assert.Equal((ApprovalStatus.Refused, "not our mistake"), (refused.Status, refused.DecisionReason));
        Assert.Equal("not-pending", error.Trailers.GetValue("bulwark-rule"));
        await RpcAssert.InvalidAsync("reason", () => Host.Approvals.RefuseAsync(new RefuseRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = checker }).ResponseAsync);
    }

    [Fact]
    public async Task RecordExecution_OnlyAfterApproval_OnceOnly_RepeatAnswersUnchanged()
    {
        var (_, checker, approval) = await ProposedAsync();
        var transferId = new string('a', 32);
        var execution = new RecordExecutionRequest { ApprovalId = approval.ApprovalId, ActorStaffId = checker, TransferId = transferId };

        var early = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Approvals.RecordExecutionAsync(execution).ResponseAsync);
        await Host.Approvals.ApproveAsync(new ApproveRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = checker });
        var executed = await Host.Approvals.RecordExecutionAsync(execution);
        var again = await Host.Approvals.RecordExecutionAsync(execution);
        var failedLater = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Approvals.RecordExecutionAsync(
            new RecordExecutionRequest { ApprovalId = approval.ApprovalId, ActorStaffId = checker, FailureReason = "account closed" }).ResponseAsync);

        Assert.Equal("not-approved", early.Trailers.GetValue("bulwark-rule"));
        Assert.Equal((ApprovalStatus.Executed, transferId), (executed.Status, executed.TransferId));
        Assert.Equal(executed, again);
        Assert.Equal("not-approved", failedLater.Trailers.GetValue("bulwark-rule"));
        Assert.Equal(["approval.proposed", "approval.approved", "approval.executed"], (await AuditOfAsync(approval)).Select(entry => entry.Action));
    }

    [Fact]
    public async Task RecordExecution_Failed_IsTerminal_AndNeedsExactlyOneOutcome()
    {
        var (_, checker, approval) = await ProposedAsync();
        await Host.Approvals.ApproveAsync(new ApproveRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = checker });

        await RpcAssert.InvalidAsync("transfer_id", () => Host.Approvals.RecordExecutionAsync(new RecordExecutionRequest
        {
            ApprovalId = approval.ApprovalId,
            ActorStaffId = checker,
            TransferId = new string('a', 32),
            FailureReason = "both",
        }).ResponseAsync);
        var failed = await Host.Approvals.RecordExecutionAsync(new RecordExecutionRequest { ApprovalId = approval.ApprovalId, ActorStaffId = checker, FailureReason = "account closed" });
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Approvals.RecordExecutionAsync(
            new RecordExecutionRequest { ApprovalId = approval.ApprovalId, ActorStaffId = checker, TransferId = new string('a', 32) }).ResponseAsync);

        Assert.Equal((ApprovalStatus.Failed, "account closed"), (failed.Status, failed.FailureReason));
    }

    [Fact]
    public async Task Get_UnknownApproval_NotFound()
    {
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Approvals.GetAsync(new GetApprovalRequest { ApprovalId = Guid.NewGuid().ToString("D") }).ResponseAsync);
        await RpcAssert.InvalidAsync("approval_id", () => Host.Approvals.GetAsync(new GetApprovalRequest { ApprovalId = "x" }).ResponseAsync);
    }

    [Fact]
    public async Task List_ByCustomer_PendingFirst_Paged()
    {
        var maker = (await Host.NewStaffAsync(StaffRole.Support)).Staff.StaffId;
        var checker = (await Host.NewStaffAsync(StaffRole.Operations)).Staff.StaffId;
        var customer = Guid.NewGuid().ToString("D");
        var proposed = new List<Approval>();
        for (var i = 0; i < 3; i++)
        {
            var request = Proposal(maker);
            request.CustomerId = customer;
            proposed.Add(await Host.Approvals.ProposeAsync(request));
            Host.Time.Advance(TimeSpan.FromMilliseconds(1));
        }
        await Host.Approvals.RefuseAsync(new RefuseRequest { ApprovalId = proposed[0].ApprovalId, CheckerStaffId = checker, Reason = "duplicate" });

        var first = await Host.Approvals.ListAsync(new ListApprovalsRequest { CustomerId = customer, Limit = 2 });
        var second = await Host.Approvals.ListAsync(new ListApprovalsRequest { CustomerId = customer, Limit = 2, Cursor = first.NextCursor });
        var pending = await Host.Approvals.ListAsync(new ListApprovalsRequest { CustomerId = customer, Status = ApprovalStatus.Pending });

        Assert.Equal([proposed[1].ApprovalId, proposed[2].ApprovalId, proposed[0].ApprovalId], first.Approvals.Concat(second.Approvals).Select(a => a.ApprovalId));
        Assert.Equal("", second.NextCursor);
        Assert.Equal([proposed[1].ApprovalId, proposed[2].ApprovalId], pending.Approvals.Select(a => a.ApprovalId));
        await RpcAssert.InvalidAsync("cursor", () => Host.Approvals.ListAsync(new ListApprovalsRequest { Cursor = "nonsense" }).ResponseAsync);
    }
}
