using Microsoft.Data.Sqlite;

namespace Bulwark.Support.Storage;

/// <summary>
/// The chat on SQLite: messages keyed by (customer, sequence), the client message id unique within
/// a conversation, and one row per conversation holding its last sequence (which is also its count:
/// sequences have no gaps). A post runs in one IMMEDIATE transaction, so reading the last sequence
/// and inserting after it cannot race, and a staff message's audit entry is part of it.
/// </summary>
public sealed partial class SqliteSupportStore
{
    /// <summary>Schema version 2: the chat (docs/concepts/chat.md).</summary>
    private const string ChatMigration =
        """
        CREATE TABLE chat_messages (
            customer_id TEXT NOT NULL,
            sequence INTEGER NOT NULL CHECK (sequence >= 1),
            author_kind INTEGER NOT NULL,
            author_id TEXT NOT NULL,
            author_name TEXT NOT NULL,
            text TEXT NOT NULL,
            client_message_id TEXT NOT NULL,
            sent_at_unix_ms INTEGER NOT NULL,
            PRIMARY KEY (customer_id, sequence),
            UNIQUE (customer_id, client_message_id)
        );
        CREATE TABLE chat_conversations (
            customer_id TEXT PRIMARY KEY,
            last_sequence INTEGER NOT NULL,
            last_message_at_unix_ms INTEGER NOT NULL,
            awaiting_staff INTEGER NOT NULL
        );
        CREATE INDEX chat_conversations_by_recency ON chat_conversations (last_message_at_unix_ms DESC, customer_id DESC);
        CREATE INDEX chat_conversations_awaiting ON chat_conversations (awaiting_staff, last_message_at_unix_ms DESC, customer_id DESC);
        """;

    private const string ChatColumns = "customer_id, sequence, author_kind, author_id, author_name, text, client_message_id, sent_at_unix_ms";

    public async Task<ChatPostOutcome> PostChatMessageAsync(ChatMessageDraft draft, AuditDraft? audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(draft);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var existing = (await QueryAsync(connection, transaction, $"SELECT {ChatColumns} FROM chat_messages WHERE customer_id = $p0 AND client_message_id = $p1",
            [draft.CustomerId, draft.ClientMessageId], ReadChatMessage, cancellationToken)).FirstOrDefault();
        if (existing is not null)
        {
            return new ChatPostOutcome(existing, Duplicate: true, Audit: null);
        }
        var last = await ScalarAsync(connection, transaction, "SELECT last_sequence FROM chat_conversations WHERE customer_id = $p0", [draft.CustomerId], cancellationToken);
        var message = new ChatMessageRecord(draft.CustomerId, (last is long sequence ? sequence : 0) + 1, draft.AuthorKind, draft.AuthorId, draft.AuthorName,
            draft.Text, draft.ClientMessageId, draft.SentAtUnixMs);
        await ExecuteAsync(connection, transaction, $"INSERT INTO chat_messages ({ChatColumns}) VALUES ($p0, $p1, $p2, $p3, $p4, $p5, $p6, $p7)",
            [message.CustomerId, message.Sequence, (long)message.AuthorKind, message.AuthorId, message.AuthorName, message.Text, message.ClientMessageId, message.SentAtUnixMs],
            cancellationToken);
        await ExecuteAsync(connection, transaction,
            "INSERT INTO chat_conversations (customer_id, last_sequence, last_message_at_unix_ms, awaiting_staff) VALUES ($p0, $p1, $p2, $p3) " +
            "ON CONFLICT (customer_id) DO UPDATE SET last_sequence = excluded.last_sequence, last_message_at_unix_ms = excluded.last_message_at_unix_ms, awaiting_staff = excluded.awaiting_staff",
            [message.CustomerId, message.Sequence, message.SentAtUnixMs, message.AuthorKind == ChatAuthor.Customer ? 1L : 0L], cancellationToken);
        var entry = audit is null ? null : await AppendAsync(connection, transaction, audit, cancellationToken);
        transaction.Commit();
        return new ChatPostOutcome(message, Duplicate: false, entry);
    }

    public async Task<IReadOnlyList<ChatMessageRecord>> ListChatMessagesAsync(string customerId, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        using var connection = _database.Open();
        return await QueryAsync(connection, null, $"SELECT {ChatColumns} FROM chat_messages WHERE customer_id = $p0 AND sequence > $p1 ORDER BY sequence LIMIT $p2",
            [customerId, afterSequence, (long)limit], ReadChatMessage, cancellationToken);
    }

    public async Task<IReadOnlyList<ConversationRecord>> ListConversationsAsync(ConversationPosition? after, bool awaitingStaffOnly, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        using var connection = _database.Open();
        return await QueryAsync(connection, null,
            "SELECT m.customer_id, m.sequence, m.author_kind, m.author_id, m.author_name, m.text, m.client_message_id, m.sent_at_unix_ms, c.last_sequence " +
            "FROM chat_conversations c JOIN chat_messages m ON m.customer_id = c.customer_id AND m.sequence = c.last_sequence " +
            "WHERE ($p0 = 0 OR c.awaiting_staff = 1) " +
            "AND ($p4 = 0 OR c.last_message_at_unix_ms < $p1 OR (c.last_message_at_unix_ms = $p1 AND c.customer_id < $p2)) " +
            "ORDER BY c.last_message_at_unix_ms DESC, c.customer_id DESC LIMIT $p3",
            [awaitingStaffOnly ? 1L : 0L, after?.LastMessageAtUnixMs ?? 0L, after?.CustomerId ?? "", (long)limit, after is null ? 0L : 1L],
            reader => new ConversationRecord(ReadChatMessage(reader), reader.GetInt64(8)), cancellationToken);
    }

    private static ChatMessageRecord ReadChatMessage(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetInt64(1), (ChatAuthor)reader.GetInt32(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
            reader.GetString(6), reader.GetInt64(7));
}
