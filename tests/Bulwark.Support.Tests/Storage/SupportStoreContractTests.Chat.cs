using Bulwark.Support.Storage;

namespace Bulwark.Support.Tests.Storage;

/// <summary>The chat's half of the store contract (<see cref="IChatStore"/>), on both databases.</summary>
public abstract partial class SupportStoreContractTests
{
    private IChatStore Chat => (IChatStore)Store;

    private static string NewCustomer() => Guid.NewGuid().ToString("D");

    private static ChatMessageDraft FromCustomer(string customerId, string text, string? clientMessageId = null, long time = 1_000) =>
        new(customerId, ChatAuthor.Customer, customerId, "", text, clientMessageId ?? Guid.NewGuid().ToString("N"), time);

    private static ChatMessageDraft FromStaff(string customerId, string staffId, string text, long time = 2_000) =>
        new(customerId, ChatAuthor.Staff, staffId, "Olive", text, Guid.NewGuid().ToString("N"), time);

    [Fact]
    public async Task PostChatMessage_NumbersEachConversationFromOne_AndListsAfterASequenceOldestFirst()
    {
        var customer = NewCustomer();
        var other = NewCustomer();

        var first = await Chat.PostChatMessageAsync(FromCustomer(customer, "Hello\nmy card <b>is</b> lost"), null, None);
        await Chat.PostChatMessageAsync(FromCustomer(other, "Someone else"), null, None);
        var second = await Chat.PostChatMessageAsync(FromStaff(customer, Guid.NewGuid().ToString("D"), "We froze it"), null, None);
        var third = await Chat.PostChatMessageAsync(FromCustomer(customer, "Thanks"), null, None);

        Assert.Equal((1L, 2L, 3L), (first.Message.Sequence, second.Message.Sequence, third.Message.Sequence));
        Assert.False(first.Duplicate);
        var all = await Chat.ListChatMessagesAsync(customer, 0, 10, None);
        Assert.Equal(["Hello\nmy card <b>is</b> lost", "We froze it", "Thanks"], all.Select(m => m.Text));
        Assert.Equal(first.Message, all[0]);
        Assert.Equal((ChatAuthor.Staff, "Olive"), (all[1].AuthorKind, all[1].AuthorName));
        Assert.Equal(["Thanks"], (await Chat.ListChatMessagesAsync(customer, 2, 10, None)).Select(m => m.Text));
        Assert.Equal([1L, 2], (await Chat.ListChatMessagesAsync(customer, 0, 2, None)).Select(m => m.Sequence));
        Assert.Empty(await Chat.ListChatMessagesAsync(customer, 3, 10, None));
        Assert.Empty(await Chat.ListChatMessagesAsync(NewCustomer(), 0, 10, None));
    }

    [Fact]
    public async Task PostChatMessage_SameClientMessageIdAgain_AnswersTheFirstAndPostsNothing()
    {
        var customer = NewCustomer();
        var first = await Chat.PostChatMessageAsync(FromCustomer(customer, "Once", "retry-1"), null, None);

        var again = await Chat.PostChatMessageAsync(FromCustomer(customer, "Once", "retry-1", time: 5_000), null, None);
        var elsewhere = await Chat.PostChatMessageAsync(FromCustomer(NewCustomer(), "Once", "retry-1"), null, None);

        Assert.True(again.Duplicate);
        Assert.Equal(first.Message, again.Message);
        Assert.False(elsewhere.Duplicate);
        Assert.Single(await Chat.ListChatMessagesAsync(customer, 0, 10, None));
    }

    [Fact]
    public async Task PostChatMessage_WithAnAuditDraft_AppendsTheEntryInTheSameWrite_ARetryAppendsNothing()
    {
        var customer = NewCustomer();
        var staff = Guid.NewGuid().ToString("D");
        var draft = FromStaff(customer, staff, "Hello from the bank");
        var audit = new AuditDraft(2_000, staff, "chat.sent", customer, "chat message to the customer", "{}", "10.0.0.7");

        var posted = await Chat.PostChatMessageAsync(draft, audit, None);
        var retried = await Chat.PostChatMessageAsync(draft, audit, None);

        Assert.NotNull(posted.Audit);
        Assert.Null(retried.Audit);
        var entries = await Store.ListAuditAsync(new AuditFilter(null, customer, "chat.sent", 0, 0, 0), 10, None);
        Assert.Equal(posted.Audit, Assert.Single(entries));
        Assert.True((await AuditChain.VerifyAsync(Store, 100, None)).Intact);
    }

    [Fact]
    public async Task PostChatMessage_ConcurrentPostsToOneConversation_NumberedWithoutGapsOrDuplicates()
    {
        var customer = NewCustomer();

        var posts = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(() => Chat.PostChatMessageAsync(FromCustomer(customer, $"message {i}"), null, None))));

        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), posts.Select(p => p.Message.Sequence).Order());
        Assert.Equal(12, (await Chat.ListChatMessagesAsync(customer, 0, 100, None)).Count);
    }

    [Fact]
    public async Task ListConversations_NewestMessageFirst_AwaitingStaffWhenTheCustomerWroteLast_Paged()
    {
        // Times far in the future keep this test's conversations ahead of the other tests' in the shared database.
        const long Base = 4_000_000_000_000;
        var (answered, waiting, newest) = (NewCustomer(), NewCustomer(), NewCustomer());
        await Chat.PostChatMessageAsync(FromCustomer(answered, "Help", time: Base + 1), null, None);
        await Chat.PostChatMessageAsync(FromCustomer(waiting, "Hello?", time: Base + 2), null, None);
        await Chat.PostChatMessageAsync(FromStaff(answered, Guid.NewGuid().ToString("D"), "Done", time: Base + 3), null, None);
        await Chat.PostChatMessageAsync(FromCustomer(newest, "Me too", time: Base + 4), null, None);

        var page = await Chat.ListConversationsAsync(null, awaitingStaffOnly: false, 2, None);
        var next = await Chat.ListConversationsAsync(page[^1].Position, awaitingStaffOnly: false, 1, None);
        var awaiting = await Chat.ListConversationsAsync(null, awaitingStaffOnly: true, 2, None);

        Assert.Equal([newest, answered], page.Select(c => c.LastMessage.CustomerId));
        Assert.Equal(("Done", false, 2L), (page[1].LastMessage.Text, page[1].AwaitingStaff, page[1].MessageCount));
        Assert.Equal([waiting], next.Select(c => c.LastMessage.CustomerId));
        Assert.Equal([newest, waiting], awaiting.Select(c => c.LastMessage.CustomerId));
    }
}
