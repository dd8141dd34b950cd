using Bulwark.Support.Protos;
using Grpc.Core;

namespace Bulwark.Edge.Tests.Fakes;

/// <summary>
/// An in-memory chat service keeping the contract's rules that the edges rely on: one
/// conversation per customer numbered from 1, a retried client message id answers the first
/// message, and ListMessages waits (on the real clock) until a message after the sequence arrives
/// or wait_ms has passed. It records every post, so tests see who the edge said wrote it.
/// </summary>
public sealed class FakeChat : Bulwark.Support.Protos.Chat.ChatBase
{
    public const string Service = "support";

    private readonly Lock _sync = new();
    private readonly Dictionary<string, List<ChatMessage>> _conversations = new(StringComparer.Ordinal);
    private TaskCompletionSource _posted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public List<PostMessageRequest> Posts { get; } = [];

    public List<ListMessagesRequest> Reads { get; } = [];

    public IReadOnlyList<ChatMessage> Conversation(string customerId)
    {
        lock (_sync)
        {
            return [.. _conversations.GetValueOrDefault(customerId) ?? []];
        }
    }

    public override Task<PostMessageResponse> PostMessage(PostMessageRequest request, ServerCallContext context)
    {
        TaskCompletionSource posted;
        PostMessageResponse response;
        lock (_sync)
        {
            Posts.Add(request);
            if (!_conversations.TryGetValue(request.CustomerId, out var messages))
            {
                messages = [];
                _conversations.Add(request.CustomerId, messages);
            }
            if (messages.FirstOrDefault(m => m.ClientMessageId == request.ClientMessageId) is { } first)
            {
                return Task.FromResult(new PostMessageResponse { Message = first, Duplicate = true });
            }
            var message = new ChatMessage
            {
                CustomerId = request.CustomerId,
                Sequence = messages.Count + 1,
                AuthorKind = request.AuthorKind,
                AuthorId = request.AuthorId,
                AuthorName = request.AuthorKind == ChatAuthorKind.Staff ? "Olive Ops" : "",
                Text = request.Text,
                ClientMessageId = request.ClientMessageId,
                SentAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            };
            messages.Add(message);
            response = new PostMessageResponse { Message = message };
            posted = _posted;
            _posted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        posted.TrySetResult();
        return Task.FromResult(response);
    }

    public override async Task<ListMessagesResponse> ListMessages(ListMessagesRequest request, ServerCallContext context)
    {
        var until = DateTimeOffset.UtcNow.AddMilliseconds(request.WaitMs);
        lock (_sync)
        {
            Reads.Add(request);
        }
        while (true)
        {
            Task posted;
            List<ChatMessage> after;
            lock (_sync)
            {
                posted = _posted.Task;
                after = [.. (_conversations.GetValueOrDefault(request.CustomerId) ?? []).Where(m => m.Sequence > request.AfterSequence)];
            }
            var left = until - DateTimeOffset.UtcNow;
            if (after.Count > 0 || left <= TimeSpan.Zero)
            {
                var response = new ListMessagesResponse { NextAfterSequence = after.Count > 0 ? after[^1].Sequence : request.AfterSequence };
                response.Messages.Add(after);
                return response;
            }
            await Task.WhenAny(posted, Task.Delay(left, context.CancellationToken));
            context.CancellationToken.ThrowIfCancellationRequested();
        }
    }

    public override Task<ListConversationsResponse> ListConversations(ListConversationsRequest request, ServerCallContext context)
    {
        var response = new ListConversationsResponse();
        lock (_sync)
        {
            response.Conversations.Add(_conversations.Values
                .Select(messages => new ConversationSummary
                {
                    CustomerId = messages[^1].CustomerId,
                    LastMessage = messages[^1],
                    AwaitingStaff = messages[^1].AuthorKind == ChatAuthorKind.Customer,
                    MessageCount = messages.Count,
                })
                .Where(summary => !request.AwaitingStaffOnly || summary.AwaitingStaff)
                .OrderByDescending(summary => summary.LastMessage.SentAtUnixMs));
        }
        return Task.FromResult(response);
    }
}
