using Npgsql;

namespace Bulwark.Support.Storage;

public sealed partial class PostgresSupportStore
{
    private const string ApprovalColumns =
        "approval_id, kind, customer_id, account_id, amount, currency, reason, original_transfer_id, maker_staff_id, client_request_id, " +
        "proposed_at_unix_ms, expires_at_unix_ms, status, checker_staff_id, decided_at_unix_ms, decision_reason, transfer_id, failure_reason, executed_at_unix_ms";

    private const string PendingRank = "(CASE WHEN status = 'pending' THEN 0 ELSE 1 END)";

    /// <summary>Migration 2: the approvals table (issue 14 item 4).</summary>
    private const string ApprovalsMigration =
        """
        CREATE TABLE approvals (
            approval_id text PRIMARY KEY,
            kind text NOT NULL,
            customer_id text NOT NULL,
            account_id text NOT NULL,
            amount bigint NOT NULL CHECK (amount > 0),
            currency text NOT NULL,
            reason text NOT NULL,
            original_transfer_id text NOT NULL,
            maker_staff_id text NOT NULL,
            client_request_id text NOT NULL,
            proposed_at_unix_ms bigint NOT NULL,
            expires_at_unix_ms bigint NOT NULL,
            status text NOT NULL,
            checker_staff_id text NOT NULL,
            decided_at_unix_ms bigint NOT NULL,
            decision_reason text NOT NULL,
            transfer_id text NOT NULL,
            failure_reason text NOT NULL,
            executed_at_unix_ms bigint NOT NULL,
            UNIQUE (maker_staff_id, client_request_id)
        );
        CREATE INDEX approvals_by_status ON approvals (status, approval_id);
        CREATE INDEX approvals_by_customer ON approvals (customer_id, approval_id);
        """;

    public async Task<(ApprovalRecord Approval, bool Created)> ProposeAsync(ApprovalRecord approval, AuditDraft audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(approval);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Two racing retries of one proposal: the unique (maker, request id) lets one insert; the
        // other waits for it, inserts nothing and reads the winner's row below.
        var inserted = await ExecuteAsync(connection, transaction,
            $"INSERT INTO approvals ({ApprovalColumns}) VALUES ({Parameters(19)}) ON CONFLICT (maker_staff_id, client_request_id) DO NOTHING",
            ApprovalValues(approval), cancellationToken);
        if (inserted == 1)
        {
            await AppendAsync(connection, transaction, audit, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return (approval, true);
        }
        var existing = (await QueryAsync(connection, transaction, $"SELECT {ApprovalColumns} FROM approvals WHERE maker_staff_id = $1 AND client_request_id = $2",
            [approval.MakerStaffId, approval.ClientRequestId], ReadApproval, cancellationToken)).Single();
        await transaction.CommitAsync(cancellationToken);
        return (existing, false);
    }

    public async Task<ApprovalRecord?> GetApprovalAsync(string approvalId, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return (await QueryAsync(connection, null, $"SELECT {ApprovalColumns} FROM approvals WHERE approval_id = $1", [approvalId], ReadApproval, cancellationToken))
            .FirstOrDefault();
    }

    public async Task<IReadOnlyList<ApprovalRecord>> ListApprovalsAsync(ApprovalFilter filter, ApprovalCursor? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // Rank 0 for pending, 1 for the rest: pending first, then by id (version 7 UUIDs: oldest first).
        return await QueryAsync(connection, null,
            $"SELECT {ApprovalColumns} FROM approvals WHERE ($1 = '' OR status = $1) AND ($2 = '' OR customer_id = $2) " +
            $"AND ({PendingRank} > $3 OR ({PendingRank} = $3 AND approval_id > $4)) ORDER BY {PendingRank}, approval_id LIMIT $5",
            [filter.Status ?? "", filter.CustomerId ?? "", after is null ? -1L : after.Pending ? 0L : 1L, after?.ApprovalId ?? "", (long)limit],
            ReadApproval, cancellationToken);
    }

    public async Task<(ApprovalRecord? Approval, bool Changed)> TransitionAsync(ApprovalRecord next, string expected, AuditDraft audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(next);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var updated = await ExecuteAsync(connection, transaction,
            "UPDATE approvals SET status = $2, checker_staff_id = $3, decided_at_unix_ms = $4, decision_reason = $5, transfer_id = $6, failure_reason = $7, " +
            "executed_at_unix_ms = $8 WHERE approval_id = $1 AND status = $9",
            [next.ApprovalId, next.Status, next.CheckerStaffId, next.DecidedAtUnixMs, next.DecisionReason, next.TransferId, next.FailureReason, next.ExecutedAtUnixMs, expected],
            cancellationToken);
        if (updated == 1)
        {
            await AppendAsync(connection, transaction, audit, cancellationToken);
        }
        var stored = (await QueryAsync(connection, transaction, $"SELECT {ApprovalColumns} FROM approvals WHERE approval_id = $1", [next.ApprovalId], ReadApproval, cancellationToken))
            .FirstOrDefault();
        await transaction.CommitAsync(cancellationToken);
        return (stored, updated == 1);
    }

    private static object[] ApprovalValues(ApprovalRecord approval) =>
    [
        approval.ApprovalId, approval.Kind, approval.CustomerId, approval.AccountId, approval.Amount, approval.Currency, approval.Reason,
        approval.OriginalTransferId, approval.MakerStaffId, approval.ClientRequestId, approval.ProposedAtUnixMs, approval.ExpiresAtUnixMs,
        approval.Status, approval.CheckerStaffId, approval.DecidedAtUnixMs, approval.DecisionReason, approval.TransferId, approval.FailureReason,
        approval.ExecutedAtUnixMs,
    ];

    private static ApprovalRecord ReadApproval(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4), reader.GetString(5), reader.GetString(6),
            reader.GetString(7), reader.GetString(8), reader.GetString(9), reader.GetInt64(10), reader.GetInt64(11))
        {
            Status = reader.GetString(12),
            CheckerStaffId = reader.GetString(13),
            DecidedAtUnixMs = reader.GetInt64(14),
            DecisionReason = reader.GetString(15),
            TransferId = reader.GetString(16),
            FailureReason = reader.GetString(17),
            ExecutedAtUnixMs = reader.GetInt64(18),
        };
}
