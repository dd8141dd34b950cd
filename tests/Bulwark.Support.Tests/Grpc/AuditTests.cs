using Bulwark.Support.Protos;
using Grpc.Core;
using Microsoft.Data.Sqlite;

namespace Bulwark.Support.Tests.Grpc;

public sealed class AuditTests
{
    [Fact]
    public async Task Append_ByAStaffMember_ListedNewestFirstWithFiltersAndPages_AndTheChainVerifies()
    {
        await using var host = await SupportTestHost.StartAsync();
        var agent = await host.NewStaffAsync();
        var customer = Guid.NewGuid().ToString();

        var viewed = await host.Audit.AppendAsync(new AppendAuditRequest
        {
            ActorStaffId = agent.Staff.StaffId,
            Action = "customer.viewed",
            Subject = customer,
            Reason = "customer called about a card payment",
            DetailsJson = """{ "screen": "overview" }""",
            SourceAddress = "10.20.30.40",
        });
        host.Time.Advance(TimeSpan.FromSeconds(1));
        await host.Audit.AppendAsync(new AppendAuditRequest { ActorStaffId = agent.Staff.StaffId, Action = "customer.viewed", Subject = customer, Reason = "follow-up" });
        await host.Audit.AppendAsync(new AppendAuditRequest { ActorStaffId = agent.Staff.StaffId, Action = "customer.viewed", Subject = "someone-else", Reason = "other call" });

        Assert.Equal((2L, host.Time.GetUtcNow().AddSeconds(-1).ToUnixTimeMilliseconds(), """{"screen":"overview"}"""), (viewed.Sequence, viewed.TimeUnixMs, viewed.DetailsJson));
        Assert.Equal(agent.Audit.Hash, viewed.PreviousHash);
        var forCustomer = await host.Audit.ListAsync(new ListAuditRequest { Subject = customer });
        Assert.Equal(["follow-up", "customer called about a card payment"], forCustomer.Entries.Select(e => e.Reason));
        var page = await host.Audit.ListAsync(new ListAuditRequest { Actor = agent.Staff.StaffId, Limit = 2 });
        var rest = await host.Audit.ListAsync(new ListAuditRequest { Actor = agent.Staff.StaffId, Limit = 2, BeforeSequence = page.NextBeforeSequence });
        Assert.Equal([4L, 3, 2], page.Entries.Concat(rest.Entries).Select(e => e.Sequence));
        Assert.Equal(0, rest.NextBeforeSequence);
        var verified = await host.Audit.VerifyAsync(new VerifyAuditRequest());
        Assert.True(verified.Intact, verified.Problem);
        Assert.Equal((4L, 4L), (verified.EntriesChecked, verified.HeadSequence));
    }

    [Fact]
    public async Task Append_UnknownOrDisabledActorOrBadFields_Refused()
    {
        await using var host = await SupportTestHost.StartAsync();
        var agent = await host.NewStaffAsync();

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => host.Audit.AppendAsync(new AppendAuditRequest
        {
            ActorStaffId = Guid.NewGuid().ToString(),
            Action = "customer.viewed",
            Reason = "why",
        }).ResponseAsync);
        await RpcAssert.InvalidAsync("actor_staff_id", () => host.Audit.AppendAsync(new AppendAuditRequest { Action = "customer.viewed", Reason = "why" }).ResponseAsync);
        await RpcAssert.InvalidAsync("reason", () => host.Audit.AppendAsync(new AppendAuditRequest { ActorStaffId = agent.Staff.StaffId, Action = "customer.viewed" }).ResponseAsync);
        await RpcAssert.InvalidAsync("action", () => host.Audit.AppendAsync(new AppendAuditRequest { ActorStaffId = agent.Staff.StaffId, Action = "Viewed Customer", Reason = "why" }).ResponseAsync);
        await RpcAssert.InvalidAsync("details_json", () => host.Audit.AppendAsync(new AppendAuditRequest
        {
            ActorStaffId = agent.Staff.StaffId,
            Action = "customer.viewed",
            Reason = "why",
            DetailsJson = "[1, 2]",
        }).ResponseAsync);
        await host.Staff.DisableStaffAsync(new DisableStaffRequest { StaffId = agent.Staff.StaffId, Reason = "left" });
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => host.Audit.AppendAsync(new AppendAuditRequest
        {
            ActorStaffId = agent.Staff.StaffId,
            Action = "customer.viewed",
            Reason = "why",
        }).ResponseAsync);
    }

    [Fact]
    public async Task Verify_RowChangedInTheDatabaseAfterDroppingTheTrigger_ReportsTheFirstBrokenEntry()
    {
        await using var host = await SupportTestHost.StartAsync();
        var agent = await host.NewStaffAsync();
        for (var i = 0; i < 3; i++)
        {
            await host.Audit.AppendAsync(new AppendAuditRequest { ActorStaffId = agent.Staff.StaffId, Action = "customer.viewed", Subject = "c" + i, Reason = "call " + i });
        }
        using (var connection = new SqliteConnection($"Data Source={host.DatabasePath}"))
        {
            connection.Open();
            using var refused = connection.CreateCommand();
            refused.CommandText = "UPDATE audit_entries SET subject = 'nobody' WHERE sequence = 3";
            Assert.Contains("append-only", Assert.Throws<SqliteException>(() => refused.ExecuteNonQuery()).Message, StringComparison.Ordinal);
            using var tamper = connection.CreateCommand();
            tamper.CommandText = "DROP TRIGGER audit_entries_no_update; UPDATE audit_entries SET subject = 'nobody' WHERE sequence = 3";
            tamper.ExecuteNonQuery();
        }

        var verified = await host.Audit.VerifyAsync(new VerifyAuditRequest());

        Assert.False(verified.Intact);
        Assert.Equal((3L, 2L), (verified.BrokenSequence, verified.HeadSequence));
        Assert.Contains("entry 3", verified.Problem, StringComparison.Ordinal);
    }
}
