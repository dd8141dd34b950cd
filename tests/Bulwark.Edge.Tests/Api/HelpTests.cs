using System.Net;
using System.Text.Json;
using Bulwark.Edge.Tests.Fakes;
using Bulwark.Support.Protos;

namespace Bulwark.Edge.Tests.Api;

public sealed class HelpTests
{
    private static string Body(string text) => JsonSerializer.Serialize(new { text });

    [Fact]
    public async Task PostAndRead_TheSignedInCustomersOwnConversationOnly_ARetryPostsOnce()
    {
        await using var host = await EdgeHost.StartAsync();
        var demo = await host.LoginAsync();
        var other = await host.LoginAsync(FakeBank.OtherEmail, FakeBank.OtherPassword);
        var key = EdgeHost.NewIdempotencyKey();

        using var sent = await host.SendAsync(HttpMethod.Post, "/api/help/messages", Body("  My card <b>is</b> lost\nplease help  "), demo, key);
        using var retried = await host.SendAsync(HttpMethod.Post, "/api/help/messages", Body("  My card <b>is</b> lost\nplease help  "), demo, key);
        using var mine = await host.SendAsync(HttpMethod.Get, "/api/help/messages?after=0", token: demo);
        using var theirs = await host.SendAsync(HttpMethod.Get, "/api/help/messages?after=0", token: other);

        Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
        Assert.Equal("true", Assert.Single(retried.Headers.GetValues("Idempotent-Replayed")));
        using var message = JsonDocument.Parse(await sent.Content.ReadAsStringAsync());
        Assert.Equal(("customer", "My card <b>is</b> lost\nplease help", 1L),
            (message.RootElement.GetProperty("author").GetString(), message.RootElement.GetProperty("text").GetString(), message.RootElement.GetProperty("sequence").GetInt64()));
        using var conversation = JsonDocument.Parse(await mine.Content.ReadAsStringAsync());
        Assert.Equal(1, conversation.RootElement.GetProperty("messages").GetArrayLength());
        Assert.Equal(1, conversation.RootElement.GetProperty("nextAfter").GetInt64());
        using var empty = JsonDocument.Parse(await theirs.Content.ReadAsStringAsync());
        Assert.Equal(0, empty.RootElement.GetProperty("messages").GetArrayLength());
        // The edge names the token's customer as the conversation and the author, never one from the request.
        var post = host.Chat.Posts[0];
        Assert.Equal((FakeBank.DemoCustomerId, FakeBank.DemoCustomerId, ChatAuthorKind.Customer, key), (post.CustomerId, post.AuthorId, post.AuthorKind, post.ClientMessageId));
        Assert.All(host.Chat.Reads, read => Assert.Contains(read.CustomerId, new[] { FakeBank.DemoCustomerId, FakeBank.OtherCustomerId }));
        Assert.Equal(FakeBank.OtherCustomerId, host.Chat.Reads[^1].CustomerId);
    }

    [Fact]
    public async Task Read_Waiting_AnswersWhenTheBankWrites_WithTheStaffMembersFirstNameOnly()
    {
        await using var host = await EdgeHost.StartAsync();
        var demo = await host.LoginAsync();

        var poll = host.SendAsync(HttpMethod.Get, "/api/help/messages?after=0&wait=20", token: demo);
        await Task.Delay(300);
        Assert.False(poll.IsCompleted);
        await host.Chat.PostMessage(new PostMessageRequest
        {
            CustomerId = FakeBank.DemoCustomerId,
            AuthorKind = ChatAuthorKind.Staff,
            AuthorId = Guid.NewGuid().ToString(),
            Text = "Hello, how can we help?",
            ClientMessageId = "s1",
        }, null!);
        using var response = await poll.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var message = Assert.Single(json.RootElement.GetProperty("messages").EnumerateArray());
        Assert.Equal(("staff", "Olive", "Hello, how can we help?"),
            (message.GetProperty("author").GetString(), message.GetProperty("authorName").GetString(), message.GetProperty("text").GetString()));
        Assert.False(message.TryGetProperty("authorId", out _));
        Assert.Equal(20_000, host.Chat.Reads[^1].WaitMs);
    }

    [Theory]
    [InlineData("/api/help/messages?wait=26", "wait")]
    [InlineData("/api/help/messages?wait=-1", "wait")]
    [InlineData("/api/help/messages?after=-1", "after")]
    [InlineData("/api/help/messages?after=x", "after")]
    public async Task Read_BadQuery_400NamingTheField_NoServiceCall(string path, string field)
    {
        await using var host = await EdgeHost.StartAsync();
        var demo = await host.LoginAsync();

        using var response = await host.SendAsync(HttpMethod.Get, path, token: demo);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(json.RootElement.GetProperty("errors").TryGetProperty(field, out _));
        Assert.Empty(host.Chat.Reads);
    }

    [Fact]
    public async Task Post_EmptyTooLongOrWithoutAKey_400_NothingPosted()
    {
        await using var host = await EdgeHost.StartAsync();
        var demo = await host.LoginAsync();

        using var empty = await host.SendAsync(HttpMethod.Post, "/api/help/messages", Body("   "), demo, EdgeHost.NewIdempotencyKey());
        using var tooLong = await host.SendAsync(HttpMethod.Post, "/api/help/messages", Body(new string('a', 2_001)), demo, EdgeHost.NewIdempotencyKey());
        using var control = await host.SendAsync(HttpMethod.Post, "/api/help/messages", Body("bell\u0007"), demo, EdgeHost.NewIdempotencyKey());
        using var noKey = await host.SendAsync(HttpMethod.Post, "/api/help/messages", Body("Hello"), demo);
        using var atLimit = await host.SendAsync(HttpMethod.Post, "/api/help/messages", Body(new string('a', 2_000)), demo, EdgeHost.NewIdempotencyKey());

        Assert.Equal([HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest],
            new[] { empty.StatusCode, tooLong.StatusCode, control.StatusCode, noKey.StatusCode });
        Assert.Equal(HttpStatusCode.OK, atLimit.StatusCode);
        Assert.Single(host.Chat.Posts);
    }

    [Fact]
    public async Task Help_WithoutAToken_401()
    {
        await using var host = await EdgeHost.StartAsync();

        using var read = await host.SendAsync(HttpMethod.Get, "/api/help/messages");
        using var post = await host.SendAsync(HttpMethod.Post, "/api/help/messages", Body("Hello"), idempotencyKey: EdgeHost.NewIdempotencyKey());

        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized), (read.StatusCode, post.StatusCode));
        Assert.Empty(host.Chat.Posts);
    }
}
