using Bulwark.Support.Chat;
using Bulwark.Support.Protos;
using Bulwark.Support.Storage;
using Bulwark.Support.Telemetry;
using Bulwark.Support.Validation;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Support.Grpc;

/// <summary>
/// The chat's gRPC contract (chat.proto, service Chat). The edges decide who may read and write
/// which conversation (a customer their own, staff any); this service checks that a staff author is
/// an enabled member of staff, and audits every staff message in the same transaction as the message.
/// </summary>
internal sealed partial class ChatGrpcService(
    IChatStore store,
    StaffActors actors,
    ConversationSignals signals,
    ChatLongPoll longPoll,
    SupportMetrics metrics,
    TimeProvider time,
    ILogger<ChatGrpcService> logger) : Protos.Chat.ChatBase
{
    public const string SentAction = "chat.sent";

    public override async Task<PostMessageResponse> PostMessage(PostMessageRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var kind = ChatFields.AuthorKind(request.AuthorKind, "author_kind");
        var authorId = RequestFields.Id(request.AuthorId, "author_id");
        var text = ChatFields.Text(request.Text, "text");
        var clientMessageId = ChatFields.ClientMessageId(request.ClientMessageId, "client_message_id");
        var source = RequestFields.SourceAddress(request.SourceAddress, "source_address");
        if (kind == ChatAuthor.Customer && authorId != customerId)
        {
            throw SupportErrors.Invalid("author_id", "must be the customer_id: a customer writes only in their own conversation");
        }
        var cancellationToken = context.CancellationToken;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var authorName = "";
        AuditDraft? audit = null;
        if (kind == ChatAuthor.Staff)
        {
            var staff = await actors.EnabledAsync(authorId, cancellationToken);
            authorName = staff.Name;
            // The details say which message without copying its text: the conversation keeps the text.
            audit = new AuditDraft(now, staff.StaffId, SentAction, customerId, "chat message to the customer",
                $$"""{"clientMessageId":"{{clientMessageId}}"}""", source);
        }
        var outcome = await store.PostChatMessageAsync(new ChatMessageDraft(customerId, kind, authorId, authorName, text, clientMessageId, now), audit, cancellationToken);
        if (outcome.Duplicate)
        {
            if (outcome.Message.AuthorKind != kind || outcome.Message.AuthorId != authorId || outcome.Message.Text != text)
            {
                throw SupportErrors.Invalid("client_message_id", "was used already for a different message in this conversation: choose a new one for a new message");
            }
            return new PostMessageResponse { Message = ToProto(outcome.Message), Duplicate = true };
        }
        signals.Notify(customerId);
        metrics.RecordChatMessage(kind == ChatAuthor.Staff ? "staff" : "customer");
        if (outcome.Audit is not null)
        {
            metrics.RecordAuditAppend(SentAction);
        }
        LogPosted(customerId, outcome.Message.Sequence, kind.ToString());
        return new PostMessageResponse { Message = ToProto(outcome.Message) };
    }

    public override async Task<ListMessagesResponse> ListMessages(ListMessagesRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        if (request.AfterSequence < 0)
        {
            throw SupportErrors.Invalid("after_sequence", "must not be negative");
        }
        var limit = ChatFields.Limit(request.Limit, "limit", SupportLimits.ListChatMessagesLimitDefault, SupportLimits.ListChatMessagesLimitMax);
        var wait = ChatFields.Wait(request.WaitMs, "wait_ms");
        var messages = await longPoll.ReadAsync(customerId, request.AfterSequence, limit + 1, wait, context.CancellationToken);
        if (messages is null)
        {
            metrics.RecordChatWaitRefused();
            throw SupportErrors.ResourceExhausted("Too many chat long-polls are waiting in this instance; retry in a second.");
        }
        var response = new ListMessagesResponse { More = messages.Count > limit, NextAfterSequence = request.AfterSequence };
        response.Messages.Add(messages.Take(limit).Select(ToProto));
        if (response.Messages.Count > 0)
        {
            response.NextAfterSequence = response.Messages[^1].Sequence;
        }
        return response;
    }

    public override async Task<ListConversationsResponse> ListConversations(ListConversationsRequest request, ServerCallContext context)
    {
        var limit = ChatFields.Limit(request.Limit, "limit", SupportLimits.ListConversationsLimitDefault, SupportLimits.ListConversationsLimitMax);
        var after = ChatFields.Cursor(request.Cursor, "cursor");
        var conversations = await store.ListConversationsAsync(after, request.AwaitingStaffOnly, limit + 1, context.CancellationToken);
        var response = new ListConversationsResponse();
        response.Conversations.Add(conversations.Take(limit).Select(conversation => new ConversationSummary
        {
            CustomerId = conversation.LastMessage.CustomerId,
            LastMessage = ToProto(conversation.LastMessage),
            AwaitingStaff = conversation.AwaitingStaff,
            MessageCount = conversation.MessageCount,
        }));
        if (conversations.Count > limit)
        {
            response.NextCursor = ChatFields.CursorOf(conversations[limit - 1].Position);
        }
        return response;
    }

    private static ChatMessage ToProto(ChatMessageRecord message) => new()
    {
        CustomerId = message.CustomerId,
        Sequence = message.Sequence,
        AuthorKind = message.AuthorKind == ChatAuthor.Staff ? ChatAuthorKind.Staff : ChatAuthorKind.Customer,
        AuthorId = message.AuthorId,
        AuthorName = message.AuthorName,
        Text = message.Text,
        SentAtUnixMs = message.SentAtUnixMs,
        ClientMessageId = message.ClientMessageId,
    };

    [LoggerMessage(EventId = 5110, Level = LogLevel.Debug, Message = "Chat message {Sequence} posted to customer {CustomerId}'s conversation by the {AuthorKind}")]
    private partial void LogPosted(string customerId, long sequence, string authorKind);
}
