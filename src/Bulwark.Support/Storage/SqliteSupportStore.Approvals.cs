using Microsoft.Data.Sqlite;

namespace Bulwark.Support.Storage;

public sealed partial class SqliteSupportStore
{
    private const string ApprovalColumns =
        "approval_id, kind, customer_id, account_id, amount, currency, reason, original_transfer_id, maker_staff_id, client_request_id, " +
        "proposed_at_unix_ms, expires_at_unix_ms, status, checker_staff_id, decided_at_unix_ms, decision_reason, transfer_id, failure_reason, executed_at_unix_ms";

    private const string PendingRank = "(CASE WHEN status = 'pending' THEN 0 ELSE 1 END)";

    /// <summary>Migration 2: the approvals table (issue 14 item 4).</summary>
    private const string ApprovalsMigration =
        """
        CREATE TABLE approvals (
            approval_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            account_id TEXT NOT NULL,
            amount INTEGER NOT NULL CHECK (amount > 0),
            currency TEXT NOT NULL,
            reason TEXT NOT NULL,
            original_transfer_id TEXT NOT NULL,
            maker_staff_id TEXT NOT NULL,
            client_request_id TEXT NOT NULL,
            proposed_at_unix_ms INTEGER NOT NULL,
            expires_at_unix_ms INTEGER NOT NULL,
            status TEXT NOT NULL,
            checker_staff_id TEXT NOT NULL,
            decided_at_unix_ms INTEGER NOT NULL,
            decision_reason TEXT NOT NULL,
            transfer_id TEXT NOT NULL,
            failure_reason TEXT NOT NULL,
            executed_at_unix_ms INTEGER NOT NULL,
            UNIQUE (maker_staff_id, client_request_id)
        );
        CREATE INDEX approvals_by_status ON approvals (status, approval_id);
        CREATE INDEX approvals_by_customer ON approvals (customer_id, approval_id);
        """;

    public async Task<(ApprovalRecord Approval, bool Created)> ProposeAsync(ApprovalRecord approval, AuditDraft audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(approval);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var existing = (await QueryAsync(connection, transaction, $"SELECT {ApprovalColumns} FROM approvals WHERE maker_staff_id = $p0 AND client_request_id = $p1",
            [approval.MakerStaffId, approval.ClientRequestId], ReadApproval, cancellationToken)).FirstOrDefault();
        if (existing is not null)
        {
            return (existing, false);
        }
        await ExecuteAsync(connection, transaction, $"INSERT INTO approvals ({ApprovalColumns}) VALUES ({Parameters(19)})", ApprovalValues(approval), cancellationToken);
        await AppendAsync(connection, transaction, audit, cancellationToken);
        transaction.Commit();
        return (approval, true);
    }

    public async Task<ApprovalRecord?> GetApprovalAsync(string approvalId, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        return (await QueryAsync(connection, null, $"SELECT {ApprovalColumns} FROM approvals WHERE approval_id = $p0", [approvalId], ReadApproval, cancellationToken))
            .FirstOrDefault();
    }

    public async Task<IReadOnlyList<ApprovalRecord>> ListApprovalsAsync(ApprovalFilter filter, ApprovalCursor? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        using var connection = _database.Open();
        // Rank 0 for pending, 1 for the rest: pending first, then by id (version 7 UUIDs: oldest first).
        return await QueryAsync(connection, null,
            $"SELECT {ApprovalColumns} FROM approvals WHERE ($p0 = '' OR status = $p0) AND ($p1 = '' OR customer_id = $p1) " +
            $"AND ({PendingRank} > $p2 OR ({PendingRank} = $p2 AND approval_id > $p3)) ORDER BY {PendingRank}, approval_id LIMIT $p4",
            [filter.Status ?? "", filter.CustomerId ?? "", after is null ? -1L : after.Pending ? 0L : 1L, after?.ApprovalId ?? "", (long)limit],
            ReadApproval, cancellationToken);
    }

    public async Task<(ApprovalRecord? Approval, bool Changed)> TransitionAsync(ApprovalRecord next, string expected, AuditDraft audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(next);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var updated = await ExecuteAsync(connection, transaction,
            "UPDATE approvals SET status = $p1, checker_staff_id = $p2, decided_at_unix_ms = $p3, decision_reason = $p4, transfer_id = $p5, failure_reason = $p6, " +
            "executed_at_unix_ms = $p7 WHERE approval_id = $p0 AND status = $p8",
            [next.ApprovalId, next.Status, next.CheckerStaffId, next.DecidedAtUnixMs, next.DecisionReason, next.TransferId, next.FailureReason, next.ExecutedAtUnixMs, expected],
            cancellationToken);
        if (updated == 1)
        {
            await AppendAsync(connection, transaction, audit, cancellationToken);
        }
        var stored = (await QueryAsync(connection, transaction, $"SELECT {ApprovalColumns} FROM approvals WHERE approval_id = $p0", [next.ApprovalId], ReadApproval, cancellationToken))
            .FirstOrDefault();
        transaction.Commit();
        return (stored, updated == 1);
    }

    private static object[] ApprovalValues(ApprovalRecord approval) =>
    [
        approval.ApprovalId, approval.Kind, approval.CustomerId, approval.AccountId, approval.Amount, approval.Currency, approval.Reason,
        approval.OriginalTransferId, approval.MakerStaffId, approval.ClientRequestId, approval.ProposedAtUnixMs, approval.ExpiresAtUnixMs,
        approval.Status, approval.CheckerStaffId, approval.DecidedAtUnixMs, approval.DecisionReason, approval.TransferId, approval.FailureReason,
        approval.ExecutedAtUnixMs,
    ];

    private static ApprovalRecord ReadApproval(SqliteDataReader reader) =>
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
