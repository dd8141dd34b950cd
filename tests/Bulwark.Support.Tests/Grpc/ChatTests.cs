using Bulwark.Support.Chat;
using Bulwark.Support.Grpc;
using Bulwark.Support.Protos;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Support.Tests.Grpc;

public sealed class ChatTests
{
    private static string NewId() => Guid.NewGuid().ToString("D");

    private static PostMessageRequest FromCustomer(string customerId, string text, string? clientMessageId = null) => new()
    {
        CustomerId = customerId,
        AuthorKind = ChatAuthorKind.Customer,
        AuthorId = customerId,
        Text = text,
        ClientMessageId = clientMessageId ?? Guid.NewGuid().ToString("N"),
    };

    private static PostMessageRequest FromStaff(string customerId, string staffId, string text) => new()
    {
        CustomerId = customerId,
        AuthorKind = ChatAuthorKind.Staff,
        AuthorId = staffId,
        Text = text,
        ClientMessageId = Guid.NewGuid().ToString("N"),
        SourceAddress = "10.1.2.3",
    };

    [Fact]
    public async Task PostMessage_CustomerThenStaff_ListedInOrder_TheStaffMessageAuditedAsChatSent()
    {
        await using var host = await SupportTestHost.StartAsync();
        var agent = await host.NewStaffAsync();
        var customer = NewId();

        var question = await host.Chat.PostMessageAsync(FromCustomer(customer, "  Where is my <script>card</script>?\n  "));
        var answer = await host.Chat.PostMessageAsync(FromStaff(customer, agent.Staff.StaffId, "On its way."));

        // Stored as given (trimmed), markup and all: showing it as text is the screens' job.
        Assert.Equal("Where is my <script>card</script>?", question.Message.Text);
        Assert.Equal((2L, ChatAuthorKind.Staff, "Test Staff"), (answer.Message.Sequence, answer.Message.AuthorKind, answer.Message.AuthorName));
        var listed = await host.Chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer });
        Assert.Equal([question.Message, answer.Message], listed.Messages);
        Assert.Equal((2L, false), (listed.NextAfterSequence, listed.More));
        var audit = await host.Audit.ListAsync(new ListAuditRequest { Subject = customer });
        var entry = Assert.Single(audit.Entries);
        Assert.Equal((agent.Staff.StaffId, ChatGrpcService.SentAction, "10.1.2.3"), (entry.Actor, entry.Action, entry.SourceAddress));
        var conversations = await host.Chat.ListConversationsAsync(new ListConversationsRequest());
        var summary = Assert.Single(conversations.Conversations);
        Assert.Equal((customer, false, 2L), (summary.CustomerId, summary.AwaitingStaff, summary.MessageCount));
    }

    [Fact]
    public async Task PostMessage_BadFields_InvalidArgumentNamingTheField()
    {
        await using var host = await SupportTestHost.StartAsync();
        var customer = NewId();

        await RpcAssert.InvalidAsync("text", () => host.Chat.PostMessageAsync(FromCustomer(customer, "   ")).ResponseAsync);
        await RpcAssert.InvalidAsync("text", () => host.Chat.PostMessageAsync(FromCustomer(customer, new string('a', SupportLimits.ChatTextLengthMax + 1))).ResponseAsync);
        await RpcAssert.InvalidAsync("text", () => host.Chat.PostMessageAsync(FromCustomer(customer, "bell\u0007")).ResponseAsync);
        await RpcAssert.InvalidAsync("customer_id", () => host.Chat.PostMessageAsync(FromCustomer("not-a-customer", "Hello")).ResponseAsync);
        await RpcAssert.InvalidAsync("author_id", () => host.Chat.PostMessageAsync(new PostMessageRequest(FromCustomer(customer, "Hello")) { AuthorId = NewId() }).ResponseAsync);
        await RpcAssert.InvalidAsync("author_kind", () => host.Chat.PostMessageAsync(new PostMessageRequest(FromCustomer(customer, "Hello")) { AuthorKind = ChatAuthorKind.Unspecified }).ResponseAsync);
        await RpcAssert.InvalidAsync("client_message_id", () => host.Chat.PostMessageAsync(FromCustomer(customer, "Hello", "")).ResponseAsync);
        await RpcAssert.InvalidAsync("client_message_id", () => host.Chat.PostMessageAsync(FromCustomer(customer, "Hello", "has space")).ResponseAsync);
        await RpcAssert.InvalidAsync("wait_ms", () => host.Chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer, WaitMs = SupportLimits.ChatWaitMillisecondsMax + 1 }).ResponseAsync);
        await RpcAssert.InvalidAsync("after_sequence", () => host.Chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer, AfterSequence = -1 }).ResponseAsync);
        await RpcAssert.InvalidAsync("cursor", () => host.Chat.ListConversationsAsync(new ListConversationsRequest { Cursor = "made-up" }).ResponseAsync);
        // Exactly at the limit is accepted.
        await host.Chat.PostMessageAsync(FromCustomer(customer, new string('a', SupportLimits.ChatTextLengthMax)));
        Assert.Single((await host.Chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer })).Messages);
    }

    [Fact]
    public async Task PostMessage_RetriedWithTheSameClientMessageId_AnswersTheFirstOnce_AnotherTextWithItRefused()
    {
        await using var host = await SupportTestHost.StartAsync();
        var agent = await host.NewStaffAsync();
        var customer = NewId();
        var request = FromStaff(customer, agent.Staff.StaffId, "Hello");

        var first = await host.Chat.PostMessageAsync(request);
        host.Time.Advance(TimeSpan.FromSeconds(5));
        var retry = await host.Chat.PostMessageAsync(request);

        Assert.Equal((false, true), (first.Duplicate, retry.Duplicate));
        Assert.Equal(first.Message, retry.Message);
        Assert.Single((await host.Chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer })).Messages);
        Assert.Single((await host.Audit.ListAsync(new ListAuditRequest { Subject = customer })).Entries);
        await RpcAssert.InvalidAsync("client_message_id", () => host.Chat.PostMessageAsync(new PostMessageRequest(request) { Text = "Something else" }).ResponseAsync);
    }

    [Fact]
    public async Task PostMessage_ByAnUnknownOrDisabledStaffMember_FailedPrecondition_NothingPosted()
    {
        await using var host = await SupportTestHost.StartAsync();
        var agent = await host.NewStaffAsync();
        await host.Staff.DisableStaffAsync(new DisableStaffRequest { StaffId = agent.Staff.StaffId, Reason = "left the bank" });
        var customer = NewId();

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => host.Chat.PostMessageAsync(FromStaff(customer, NewId(), "Hi")).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => host.Chat.PostMessageAsync(FromStaff(customer, agent.Staff.StaffId, "Hi")).ResponseAsync);

        Assert.Empty((await host.Chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer })).Messages);
    }

    [Fact]
    public async Task ListMessages_Waiting_AnswersAsSoonAsAMessageIsPosted_WithoutTheClockMoving()
    {
        await using var host = await SupportTestHost.StartAsync();
        var customer = NewId();
        await host.Chat.PostMessageAsync(FromCustomer(customer, "First"));
        var signals = host.Services.GetRequiredService<ConversationSignals>();

        using var poll = host.Chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer, AfterSequence = 1, WaitMs = SupportLimits.ChatWaitMillisecondsMax });
        await Eventually(() => signals.Waiters == 1);
        Assert.False(poll.ResponseAsync.IsCompleted);
        var before = host.Time.GetUtcNow();
        await host.Chat.PostMessageAsync(FromCustomer(customer, "Second"));
        var answer = await poll.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["Second"], answer.Messages.Select(m => m.Text));
        Assert.Equal(2, answer.NextAfterSequence);
        Assert.Equal(before, host.Time.GetUtcNow());
        await Eventually(() => signals.Waiters == 0);
    }

    [Fact]
    public async Task ListMessages_Waiting_NothingPosted_EndsEmptyWhenTheWaitIsOver()
    {
        await using var host = await SupportTestHost.StartAsync();
        var customer = NewId();
        var signals = host.Services.GetRequiredService<ConversationSignals>();
        var start = host.Time.GetUtcNow();

        using var poll = host.Chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer, AfterSequence = 0, WaitMs = 3_000 });
        await Eventually(() => signals.Waiters == 1);
        for (var i = 0; i < 400 && !poll.ResponseAsync.IsCompleted; i++)
        {
            host.Time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.WhenAny(poll.ResponseAsync, Task.Delay(25));
        }
        var answer = await poll.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Empty(answer.Messages);
        Assert.Equal(0, answer.NextAfterSequence);
        Assert.InRange(host.Time.GetUtcNow() - start, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(4));
    }

    [Fact]
    public async Task ListMessages_AfterASequenceWithALimit_PagesWithMore()
    {
        await using var host = await SupportTestHost.StartAsync();
        var customer = NewId();
        for (var i = 1; i <= 3; i++)
        {
            await host.Chat.PostMessageAsync(FromCustomer(customer, $"m{i}"));
        }

        var page = await host.Chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer, Limit = 2 });
        var rest = await host.Chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer, Limit = 2, AfterSequence = page.NextAfterSequence });

        Assert.Equal((true, 2L), (page.More, page.NextAfterSequence));
        Assert.Equal((false, 3L), (rest.More, rest.NextAfterSequence));
        Assert.Equal(["m1", "m2", "m3"], page.Messages.Concat(rest.Messages).Select(m => m.Text));
    }

    internal static async Task Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }
        Assert.True(condition(), "The condition did not become true within 5 s.");
    }
}
