namespace Bulwark.Support.Storage;

/// <summary>
/// The chat's store: one conversation per customer, its messages numbered 1, 2, 3 ... without gaps
/// even under concurrent writers, and a client message id that is unique within a conversation (a
/// retry finds the first message instead of posting a second). The SQLite and PostgreSQL support
/// stores implement it in the same database as the audit log, so a staff member's message and its
/// audit entry are one transaction.
/// </summary>
public interface IChatStore
{
    /// <summary>
    /// Appends the message at the end of its conversation (the store sets the sequence) and, when
    /// given, <paramref name="audit"/> in the same transaction. When the conversation has a message
    /// with the same client message id already, nothing is written and that message is answered
    /// with <c>Duplicate = true</c>.
    /// </summary>
    Task<ChatPostOutcome> PostChatMessageAsync(ChatMessageDraft draft, AuditDraft? audit, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> messages of the conversation with sequences after <paramref name="afterSequence"/>, oldest first.</summary>
    Task<IReadOnlyList<ChatMessageRecord>> ListChatMessagesAsync(string customerId, long afterSequence, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="limit"/> conversations, the most recent message first, strictly after
    /// <paramref name="after"/> in that order (null: from the newest).
    /// </summary>
    Task<IReadOnlyList<ConversationRecord>> ListConversationsAsync(ConversationPosition? after, bool awaitingStaffOnly, int limit, CancellationToken cancellationToken);
}

/// <summary>Who wrote a chat message.</summary>
public enum ChatAuthor
{
    Customer = 1,
    Staff = 2,
}

/// <summary>A message as its author sends it; the store adds the sequence.</summary>
public sealed record ChatMessageDraft(string CustomerId, ChatAuthor AuthorKind, string AuthorId, string AuthorName, string Text, string ClientMessageId, long SentAtUnixMs);

/// <summary>A message as stored.</summary>
public sealed record ChatMessageRecord(
    string CustomerId,
    long Sequence,
    ChatAuthor AuthorKind,
    string AuthorId,
    string AuthorName,
    string Text,
    string ClientMessageId,
    long SentAtUnixMs);

/// <summary>What a post did: the message (the new one, or the first one with its client message id) and its audit entry when one was written.</summary>
public sealed record ChatPostOutcome(ChatMessageRecord Message, bool Duplicate, AuditEntryRecord? Audit);

/// <summary>A conversation for the staff's list: its newest message and how many there are.</summary>
public sealed record ConversationRecord(ChatMessageRecord LastMessage, long MessageCount)
{
    /// <summary>The customer wrote last: they are waiting for an answer.</summary>
    public bool AwaitingStaff => LastMessage.AuthorKind == ChatAuthor.Customer;

    public ConversationPosition Position => new(LastMessage.SentAtUnixMs, LastMessage.CustomerId);
}

/// <summary>A place in the conversation list's order (newest message first, then customer id): the paging cursor.</summary>
public sealed record ConversationPosition(long LastMessageAtUnixMs, string CustomerId);
