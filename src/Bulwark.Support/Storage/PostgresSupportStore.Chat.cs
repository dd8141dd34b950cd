using Npgsql;

namespace Bulwark.Support.Storage;

/// <summary>
/// The chat on PostgreSQL, in the support schema beside the audit log. Writers run concurrently
/// here, so a post takes a transaction-scoped advisory lock on its conversation before it looks
/// for its client message id and reads the last sequence: two posts to one conversation serialise
/// (the primary key on (customer, sequence) and the unique client message id stay behind it as the
/// last word), posts to different conversations do not wait for each other.
/// </summary>
public sealed partial class PostgresSupportStore
{
    /// <summary>Schema version 2: the chat (docs/concepts/chat.md).</summary>
    private const string ChatMigration =
        """
        CREATE TABLE chat_messages (
            customer_id text NOT NULL,
            sequence bigint NOT NULL CHECK (sequence >= 1),
            author_kind integer NOT NULL,
            author_id text NOT NULL,
            author_name text NOT NULL,
            text text NOT NULL,
            client_message_id text NOT NULL,
            sent_at_unix_ms bigint NOT NULL,
            PRIMARY KEY (customer_id, sequence),
            UNIQUE (customer_id, client_message_id)
        );
        CREATE TABLE chat_conversations (
            customer_id text PRIMARY KEY,
            last_sequence bigint NOT NULL,
            last_message_at_unix_ms bigint NOT NULL,
            awaiting_staff boolean NOT NULL
        );
        CREATE INDEX chat_conversations_by_recency ON chat_conversations (last_message_at_unix_ms DESC, customer_id DESC);
        CREATE INDEX chat_conversations_awaiting ON chat_conversations (awaiting_staff, last_message_at_unix_ms DESC, customer_id DESC);
        """;

    private const string ChatColumns = "customer_id, sequence, author_kind, author_id, author_name, text, client_message_id, sent_at_unix_ms";

    public async Task<ChatPostOutcome> PostChatMessageAsync(ChatMessageDraft draft, AuditDraft? audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(draft);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(hashtext($1))", ["support:chat:" + draft.CustomerId], cancellationToken);
        var existing = (await QueryAsync(connection, transaction, $"SELECT {ChatColumns} FROM chat_messages WHERE customer_id = $1 AND client_message_id = $2",
            [draft.CustomerId, draft.ClientMessageId], ReadChatMessage, cancellationToken)).FirstOrDefault();
        if (existing is not null)
        {
            return new ChatPostOutcome(existing, Duplicate: true, Audit: null);
        }
        var last = (await QueryAsync(connection, transaction, "SELECT last_sequence FROM chat_conversations WHERE customer_id = $1", [draft.CustomerId],
            reader => reader.GetInt64(0), cancellationToken)).FirstOrDefault();
        var message = new ChatMessageRecord(draft.CustomerId, last + 1, draft.AuthorKind, draft.AuthorId, draft.AuthorName,
            draft.Text, draft.ClientMessageId, draft.SentAtUnixMs);
        await ExecuteAsync(connection, transaction, $"INSERT INTO chat_messages ({ChatColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [message.CustomerId, message.Sequence, (int)message.AuthorKind, message.AuthorId, message.AuthorName, message.Text, message.ClientMessageId, message.SentAtUnixMs],
            cancellationToken);
        await ExecuteAsync(connection, transaction,
            "INSERT INTO chat_conversations (customer_id, last_sequence, last_message_at_unix_ms, awaiting_staff) VALUES ($1, $2, $3, $4) " +
            "ON CONFLICT (customer_id) DO UPDATE SET last_sequence = excluded.last_sequence, last_message_at_unix_ms = excluded.last_message_at_unix_ms, awaiting_staff = excluded.awaiting_staff",
            [message.CustomerId, message.Sequence, message.SentAtUnixMs, message.AuthorKind == ChatAuthor.Customer], cancellationToken);
        var entry = audit is null ? null : await AppendAsync(connection, transaction, audit, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new ChatPostOutcome(message, Duplicate: false, entry);
    }

    public async Task<IReadOnlyList<ChatMessageRecord>> ListChatMessagesAsync(string customerId, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await QueryAsync(connection, null, $"SELECT {ChatColumns} FROM chat_messages WHERE customer_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3",
            [customerId, afterSequence, (long)limit], ReadChatMessage, cancellationToken);
    }

    public async Task<IReadOnlyList<ConversationRecord>> ListConversationsAsync(ConversationPosition? after, bool awaitingStaffOnly, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await QueryAsync(connection, null,
            "SELECT m.customer_id, m.sequence, m.author_kind, m.author_id, m.author_name, m.text, m.client_message_id, m.sent_at_unix_ms, c.last_sequence " +
            "FROM chat_conversations c JOIN chat_messages m ON m.customer_id = c.customer_id AND m.sequence = c.last_sequence " +
            "WHERE (NOT $1 OR c.awaiting_staff) AND (NOT $5 OR (c.last_message_at_unix_ms, c.customer_id) < ($2, $3)) " +
            "ORDER BY c.last_message_at_unix_ms DESC, c.customer_id DESC LIMIT $4",
            [awaitingStaffOnly, after?.LastMessageAtUnixMs ?? 0L, after?.CustomerId ?? "", (long)limit, after is not null],
            reader => new ConversationRecord(ReadChatMessage(reader), reader.GetInt64(8)), cancellationToken);
    }

    private static ChatMessageRecord ReadChatMessage(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetInt64(1), (ChatAuthor)reader.GetInt32(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
            reader.GetString(6), reader.GetInt64(7));
}
