using System.Globalization;
using System.Text.Json.Serialization;
using Bulwark.Edge.Api;
using Bulwark.Edge.Problems;
using Bulwark.Edge.Services;
using Bulwark.Support.Protos;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using ChatClient = Bulwark.Support.Protos.Chat.ChatClient;

namespace Bulwark.Edge.Staff;

internal sealed record StaffChatMessageDto(long Sequence, string Author, string AuthorId, string? AuthorName, string Text, DateTimeOffset SentAt);

internal sealed record StaffChatResponse(string CustomerId, IReadOnlyList<StaffChatMessageDto> Messages, long NextAfter, bool More);

internal sealed record StaffConversationDto(string CustomerId, StaffChatMessageDto LastMessage, bool AwaitingStaff, long MessageCount);

internal sealed record StaffConversationsResponse(IReadOnlyList<StaffConversationDto> Conversations, string? NextCursor);

/// <summary>
/// The console's side of the chat with customers (docs/concepts/chat.md), for support and
/// operations staff (<see cref="StaffPolicies.Console"/>): read a customer's conversation as a
/// long-poll, answer in it, and list the conversations, newest first. Every read that shows messages
/// is audited as <c>chat.viewed</c> before anything is shown (polls that find nothing new write
/// nothing), and the list of conversations as <c>chat.listed</c> with the reason given. A message a
/// staff member sends is audited by the support service itself, as <c>chat.sent</c> in the same
/// transaction as the message, so the edge does not write it twice.
/// </summary>
internal static class StaffChatApi
{
    public const string ViewedAction = "chat.viewed";

    /// <remarks>
    /// The services are named <c>[FromServices]</c> so that they are resolved per request: a host
    /// that maps the staff edge without the support service's clients (tests of the gate) still starts.
    /// </remarks>
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup(StaffPaths.Api)
            .AddEndpointFilter(AppApiEndpoints.ProblemFilterAsync)
            .RequireAuthorization(StaffPolicies.Console);
        api.MapGet("/customers/{customerId}/chat", ReadAsync);
        api.MapPost("/customers/{customerId}/chat", SendAsync);
        api.MapGet("/chats", ConversationsAsync);
    }

    private static async Task<IResult> ReadAsync(HttpContext http, string customerId, [FromServices] ChatClient chat, [FromServices] IStaffAuditLog audit, [FromServices] StaffEdgeOptions options)
    {
        var customer = CustomerId(customerId);
        var (after, wait) = ChatText.ReadPollQuery(http.Request.Query);
        var actor = StaffActor.From(http);
        var reply = await new ServiceCaller(options.ServiceCallTimeout).WaitingFor(wait).CallAsync(ServiceCaller.Support,
            call => chat.ListMessagesAsync(new ListMessagesRequest { CustomerId = customer, AfterSequence = after, WaitMs = (int)wait.TotalMilliseconds }, call),
            http.RequestAborted);
        if (reply.Messages.Count > 0)
        {
            // Every read that shows messages is audited before the answer leaves, whatever its
            // cursor or wait: a read from after=1 shows as much as one from the start. Polls that
            // find nothing new show nothing and write nothing.
            await audit.AppendAsync(actor, ViewedAction, customer, after == 0 ? "opened the conversation with the customer" : "read new messages in the conversation",
                new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["after"] = after.ToString(CultureInfo.InvariantCulture),
                    ["messages"] = reply.Messages.Count.ToString(CultureInfo.InvariantCulture),
                }, http.RequestAborted);
        }
        return TypedResults.Json(new StaffChatResponse(customer, [.. reply.Messages.Select(ToDto)], reply.NextAfterSequence, reply.More),
            StaffChatJsonContext.Default.StaffChatResponse);
    }

    private static async Task<IResult> SendAsync(HttpContext http, string customerId, [FromServices] ChatClient chat, [FromServices] StaffEdgeOptions options)
    {
        var customer = CustomerId(customerId);
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var text = ChatText.Read(body.RootElement, "text");
        var clientMessageId = ClientMessageId(body.RootElement);
        var actor = StaffActor.From(http);
        var reply = await new ServiceCaller(options.ServiceCallTimeout).CallAsync(ServiceCaller.Support, call => chat.PostMessageAsync(new PostMessageRequest
        {
            CustomerId = customer,
            AuthorKind = ChatAuthorKind.Staff,
            AuthorId = actor.StaffId,
            Text = text,
            ClientMessageId = clientMessageId,
            SourceAddress = actor.Source.ToString(),
        }, call), http.RequestAborted);
        if (reply.Duplicate)
        {
            http.Response.Headers["Idempotent-Replayed"] = "true";
        }
        return TypedResults.Json(ToDto(reply.Message), StaffChatJsonContext.Default.StaffChatMessageDto);
    }

    private static async Task<IResult> ConversationsAsync(HttpContext http, [FromServices] ChatClient chat, [FromServices] IStaffAuditLog audit, [FromServices] StaffEdgeOptions options)
    {
        var query = http.Request.Query;
        // The list shows every conversation's newest message: customers' words, so it says why like a search.
        var reason = query["reason"].ToString().Trim();
        if (reason.Length < StaffEdgeLimits.ReasonLengthMin || reason.Length > StaffEdgeLimits.ReasonLengthMax)
        {
            throw ProblemException.Field(ProblemType.Validation, "reason", $"reason must say why, in {StaffEdgeLimits.ReasonLengthMin} to {StaffEdgeLimits.ReasonLengthMax} characters (it goes into the audit log).");
        }
        var cursor = query["cursor"].ToString();
        if (cursor.Length > EdgeLimits.CursorLengthMax || cursor.Any(char.IsControl))
        {
            throw ProblemException.Field(ProblemType.Validation, "cursor", "cursor must be the nextCursor of a previous page.");
        }
        var limit = 0;
        var limitText = query["limit"].ToString();
        if (limitText.Length > 0 && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > StaffEdgeLimits.ChatsPageLimitMax))
        {
            throw ProblemException.Field(ProblemType.Validation, "limit", $"limit must be a whole number from 1 to {StaffEdgeLimits.ChatsPageLimitMax}.");
        }
        var awaitingOnly = query["awaiting"].ToString() is "true" or "1";
        var reply = await new ServiceCaller(options.ServiceCallTimeout).CallAsync(ServiceCaller.Support,
            call => chat.ListConversationsAsync(new ListConversationsRequest { Cursor = cursor, Limit = limit, AwaitingStaffOnly = awaitingOnly }, call), http.RequestAborted);
        await audit.AppendAsync(StaffActor.From(http), "chat.listed", "", reason, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["conversations"] = reply.Conversations.Count.ToString(CultureInfo.InvariantCulture),
        }, http.RequestAborted);
        var conversations = reply.Conversations
            .Select(conversation => new StaffConversationDto(conversation.CustomerId, ToDto(conversation.LastMessage), conversation.AwaitingStaff, conversation.MessageCount))
            .ToList();
        return TypedResults.Json(new StaffConversationsResponse(conversations, reply.NextCursor.Length == 0 ? null : reply.NextCursor),
            StaffChatJsonContext.Default.StaffConversationsResponse);
    }

    private static string CustomerId(string value) =>
        value.Length == 36 && Guid.TryParseExact(value, "D", out var id)
            ? id.ToString("D")
            : throw ProblemException.Field(ProblemType.Validation, "customerId", "customerId must be a customer's id (a UUID such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301).");

    /// <summary>Chosen by the console for each message and reused when it retries: the support service answers the first message instead of posting twice.</summary>
    private static string ClientMessageId(System.Text.Json.JsonElement root)
    {
        var value = root.TryGetProperty("clientMessageId", out var element) && element.ValueKind == System.Text.Json.JsonValueKind.String ? element.GetString()! : "";
        return value.Length is > 0 and <= StaffEdgeLimits.ChatClientMessageIdLengthMax && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            ? value
            : throw ProblemException.Field(ProblemType.Validation, "clientMessageId",
                $"clientMessageId is required: 1 to {StaffEdgeLimits.ChatClientMessageIdLengthMax} letters, digits, '-' or '_', chosen for the message and reused when it is retried.");
    }

    private static StaffChatMessageDto ToDto(ChatMessage message) => new(
        message.Sequence,
        message.AuthorKind == ChatAuthorKind.Staff ? "staff" : "customer",
        message.AuthorId,
        message.AuthorName.Length == 0 ? null : message.AuthorName,
        message.Text,
        DateTimeOffset.FromUnixTimeMilliseconds(message.SentAtUnixMs));
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StaffChatMessageDto))]
[JsonSerializable(typeof(StaffChatResponse))]
[JsonSerializable(typeof(StaffConversationsResponse))]
internal sealed partial class StaffChatJsonContext : JsonSerializerContext;
