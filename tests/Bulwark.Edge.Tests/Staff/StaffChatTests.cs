using System.Net;
using System.Text.Json;
using Bulwark.Edge.Tests.Fakes;
using Bulwark.Support.Protos;

namespace Bulwark.Edge.Tests.Staff;

public sealed class StaffChatTests
{
    private const string Chat = $"/staff/api/customers/{FakeBank.DemoCustomerId}/chat";

    [Fact]
    public async Task EmptyConversation_PolledFromTheStart_NotAudited_UntilAReadShowsAMessage_WhateverItsWait()
    {
        await using var edge = await StaffChatHost.StartAsync();
        var customer = await edge.Host.LoginAsync();
        var staff = await edge.LoginAsync();

        using (var empty = await edge.SendAsync(HttpMethod.Get, Chat + "?after=0&wait=0", staff))
        {
            Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        }
        using (var emptyAgain = await edge.SendAsync(HttpMethod.Get, Chat + "?after=0&wait=1", staff))
        {
            Assert.Equal(HttpStatusCode.OK, emptyAgain.StatusCode);
        }
        var auditedWhileEmpty = edge.Audit.Entries.Count;
        using (await edge.Host.SendAsync(HttpMethod.Post, "/api/help/messages", JsonSerializer.Serialize(new { text = "Hello?" }), customer, EdgeHost.NewIdempotencyKey()))
        {
        }
        using var shown = await edge.SendAsync(HttpMethod.Get, Chat + "?after=0&wait=1", staff);

        Assert.Equal(0, auditedWhileEmpty);
        Assert.Contains("Hello?", await shown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("chat.viewed", Assert.Single(edge.Audit.Entries).Action);
    }

    [Fact]
    public async Task SupportStaff_OpenAuditedOnce_PollsNot_AnswerReachesTheCustomer_AuditedByTheServiceNotTwice()
    {
        await using var edge = await StaffChatHost.StartAsync();
        var customer = await edge.Host.LoginAsync();
        var staff = await edge.LoginAsync();
        using (await edge.Host.SendAsync(HttpMethod.Post, "/api/help/messages", JsonSerializer.Serialize(new { text = "Where is my card?" }), customer, EdgeHost.NewIdempotencyKey()))
        {
        }

        using var opened = await edge.SendAsync(HttpMethod.Get, Chat + "?after=0", staff);
        using var polled = await edge.SendAsync(HttpMethod.Get, Chat + "?after=1&wait=0", staff);
        using var answered = await edge.SendAsync(HttpMethod.Post, Chat, staff, new { text = "On its way.", clientMessageId = "console-1" });
        using var retried = await edge.SendAsync(HttpMethod.Post, Chat, staff, new { text = "On its way.", clientMessageId = "console-1" });
        using var listWithoutReason = await edge.SendAsync(HttpMethod.Get, "/staff/api/chats", staff);
        using var list = await edge.SendAsync(HttpMethod.Get, "/staff/api/chats?reason=morning%20triage", staff);
        using var seen = await edge.Host.SendAsync(HttpMethod.Get, "/api/help/messages?after=1", token: customer);

        Assert.Equal(HttpStatusCode.OK, opened.StatusCode);
        using (var json = JsonDocument.Parse(await opened.Content.ReadAsStringAsync()))
        {
            var first = Assert.Single(json.RootElement.GetProperty("messages").EnumerateArray());
            Assert.Equal(("customer", "Where is my card?"), (first.GetProperty("author").GetString(), first.GetProperty("text").GetString()));
        }
        Assert.Equal(HttpStatusCode.OK, polled.StatusCode);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Equal("true", Assert.Single(retried.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(HttpStatusCode.BadRequest, listWithoutReason.StatusCode);
        // The opening read and the list: the poll that found nothing new wrote nothing, the answer is the support service's to audit.
        Assert.Equal(2, edge.Audit.Entries.Count);
        var entry = edge.Audit.Entries[0];
        Assert.Equal((StaffChatHost.SupportStaffId, "chat.viewed", FakeBank.DemoCustomerId), (entry.Actor.StaffId, entry.Action, entry.Subject));
        Assert.Equal(("chat.listed", "morning triage"), (edge.Audit.Entries[1].Action, edge.Audit.Entries[1].Reason));
        var post = edge.Host.Chat.Posts[^1];
        Assert.Equal((ChatAuthorKind.Staff, StaffChatHost.SupportStaffId, "127.0.0.1", "console-1"), (post.AuthorKind, post.AuthorId, post.SourceAddress, post.ClientMessageId));
        Assert.Equal(2, edge.Host.Chat.Conversation(FakeBank.DemoCustomerId).Count);
        using (var json = JsonDocument.Parse(await list.Content.ReadAsStringAsync()))
        {
            var conversation = Assert.Single(json.RootElement.GetProperty("conversations").EnumerateArray());
            Assert.Equal((FakeBank.DemoCustomerId, false, 2L),
                (conversation.GetProperty("customerId").GetString(), conversation.GetProperty("awaitingStaff").GetBoolean(), conversation.GetProperty("messageCount").GetInt64()));
        }
        using (var json = JsonDocument.Parse(await seen.Content.ReadAsStringAsync()))
        {
            Assert.Equal("On its way.", Assert.Single(json.RootElement.GetProperty("messages").EnumerateArray()).GetProperty("text").GetString());
        }
    }

    [Fact]
    public async Task ChatApi_OperationsAllowed_AdminOnly403_CustomerToken401_StaffTokenOnHelp401()
    {
        await using var edge = await StaffChatHost.StartAsync();
        var operations = await edge.LoginAsync(StaffChatHost.OperationsEmail);
        var admin = await edge.LoginAsync(StaffChatHost.AdminEmail);
        var customer = await edge.Host.LoginAsync();

        using var byOperations = await edge.SendAsync(HttpMethod.Get, Chat + "?after=0", operations);
        using var adminRead = await edge.SendAsync(HttpMethod.Get, Chat + "?after=0", admin);
        using var adminSend = await edge.SendAsync(HttpMethod.Post, Chat, admin, new { text = "Hi", clientMessageId = "a1" });
        using var adminList = await edge.SendAsync(HttpMethod.Get, "/staff/api/chats", admin);
        using var customerRead = await edge.SendAsync(HttpMethod.Get, Chat + "?after=0", customer);
        using var customerSend = await edge.SendAsync(HttpMethod.Post, Chat, customer, new { text = "Hi", clientMessageId = "c1" });
        using var staffOnHelp = await edge.Host.SendAsync(HttpMethod.Get, "/api/help/messages", token: operations);

        Assert.Equal(HttpStatusCode.OK, byOperations.StatusCode);
        Assert.Equal([HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden], new[] { adminRead.StatusCode, adminSend.StatusCode, adminList.StatusCode });
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized], new[] { customerRead.StatusCode, customerSend.StatusCode, staffOnHelp.StatusCode });
        Assert.Empty(edge.Host.Chat.Posts);
        // The one read allowed found an empty conversation: nothing was shown, nothing audited; the refused ones wrote nothing.
        Assert.Empty(edge.Audit.Entries);
    }

    [Fact]
    public async Task Send_BadCustomerIdTextOrClientMessageId_400NamingTheField_NothingPosted()
    {
        await using var edge = await StaffChatHost.StartAsync();
        var staff = await edge.LoginAsync();

        var cases = new (string Path, object Body, string Field)[]
        {
            ("/staff/api/customers/not-a-customer/chat", new { text = "Hi", clientMessageId = "x1" }, "customerId"),
            (Chat, new { text = new string('a', 2_001), clientMessageId = "x2" }, "text"),
            (Chat, new { text = "  ", clientMessageId = "x3" }, "text"),
            (Chat, new { text = "Hi" }, "clientMessageId"),
            (Chat, new { text = "Hi", clientMessageId = "has space" }, "clientMessageId"),
        };
        foreach (var (path, body, field) in cases)
        {
            using var response = await edge.SendAsync(HttpMethod.Post, path, staff, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.True(json.RootElement.GetProperty("errors").TryGetProperty(field, out _), $"{path}: expected an error naming {field}");
        }
        using var badWait = await edge.SendAsync(HttpMethod.Get, Chat + "?after=0&wait=26", staff);

        Assert.Equal(HttpStatusCode.BadRequest, badWait.StatusCode);
        Assert.Empty(edge.Host.Chat.Posts);
        Assert.Empty(edge.Audit.Entries);
    }
}
