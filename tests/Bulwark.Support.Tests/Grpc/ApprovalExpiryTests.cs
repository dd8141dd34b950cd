using Bulwark.Support.Protos;
using Grpc.Core;

namespace Bulwark.Support.Tests.Grpc;

/// <summary>A pending approval expires after <see cref="SupportLimits.ApprovalExpiryDays"/> days: a host of its own, whose clock moves.</summary>
public sealed class ApprovalExpiryTests
{
    [Fact]
    public async Task Approve_AfterSevenDays_ExpiredAndAuditedBySystem()
    {
        await using var host = await SupportTestHost.StartAsync();
        var maker = (await host.NewStaffAsync(StaffRole.Support)).Staff.StaffId;
        var checker = (await host.NewStaffAsync(StaffRole.Operations)).Staff.StaffId;
        var approval = await host.Approvals.ProposeAsync(new ProposeApprovalRequest
        {
            Kind = ApprovalKind.GoodwillCredit,
            CustomerId = Guid.NewGuid().ToString("D"),
            AccountId = Guid.NewGuid().ToString("D"),
            Amount = 100,
            Currency = "GBP",
            Reason = "late fee waived",
            MakerStaffId = maker,
            ClientRequestId = Guid.NewGuid().ToString("N"),
        });
        host.Time.Advance(TimeSpan.FromDays(SupportLimits.ApprovalExpiryDays) - TimeSpan.FromSeconds(1));
        Assert.Equal(ApprovalStatus.Pending, (await host.Approvals.GetAsync(new GetApprovalRequest { ApprovalId = approval.ApprovalId })).Status);

        host.Time.Advance(TimeSpan.FromSeconds(1));
        var error = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition,
            () => host.Approvals.ApproveAsync(new ApproveRequest { ApprovalId = approval.ApprovalId, CheckerStaffId = checker }).ResponseAsync);

        Assert.Equal("expired", error.Trailers.GetValue("bulwark-rule"));
        Assert.Equal(ApprovalStatus.Expired, (await host.Approvals.GetAsync(new GetApprovalRequest { ApprovalId = approval.ApprovalId })).Status);
        var entries = (await host.Audit.ListAsync(new ListAuditRequest { Subject = approval.CustomerId })).Entries;
        Assert.Equal(["approval.expired", "approval.proposed"], entries.Select(entry => entry.Action));
        Assert.Equal("system", entries[0].Actor);
    }
}
