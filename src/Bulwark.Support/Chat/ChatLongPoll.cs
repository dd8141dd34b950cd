using Bulwark.Support.Storage;

namespace Bulwark.Support.Chat;

/// <summary>
/// A bounded wait for the messages of a conversation after a sequence: answers at once when the
/// store has some, else when this process posts to the conversation (<see cref="ConversationSignals"/>),
/// when a re-read of the store finds one (every <c>recheck</c>: another instance posted it), or when
/// the wait ends — with what the store has then, possibly nothing. Time comes from the
/// <see cref="TimeProvider"/>, so tests run it on a fake clock.
/// </summary>
internal sealed class ChatLongPoll(IChatStore store, ConversationSignals signals, TimeProvider time, TimeSpan recheck)
{
    public ChatLongPoll(IChatStore store, ConversationSignals signals, TimeProvider time)
        : this(store, signals, time, TimeSpan.FromMilliseconds(SupportLimits.ChatRecheckMillisecondsDefault))
    {
    }

    /// <summary>The messages, or null when too many long-polls wait already (the caller answers RESOURCE_EXHAUSTED).</summary>
    public async Task<IReadOnlyList<ChatMessageRecord>?> ReadAsync(string customerId, long afterSequence, int limit, TimeSpan wait, CancellationToken cancellationToken)
    {
        var messages = await store.ListChatMessagesAsync(customerId, afterSequence, limit, cancellationToken);
        if (messages.Count > 0 || wait <= TimeSpan.Zero)
        {
            return messages;
        }
        var deadline = time.GetUtcNow() + wait;
        // Subscribed once, before the store is read again (a post between the read and the wait still
        // wakes it), and kept for the whole wait: the limits refuse a long-poll at its start, never halfway.
        using var subscription = signals.Subscribe(customerId);
        if (subscription is null)
        {
            return null;
        }
        while (true)
        {
            if (subscription.Posted.IsCompleted)
            {
                subscription.Renew();
            }
            messages = await store.ListChatMessagesAsync(customerId, afterSequence, limit, cancellationToken);
            var left = deadline - time.GetUtcNow();
            if (messages.Count > 0 || left <= TimeSpan.Zero)
            {
                return messages;
            }
            using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(left < recheck ? left : recheck, time, stopDelay.Token);
            await Task.WhenAny(subscription.Posted, delay);
            await stopDelay.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }
    }
}
