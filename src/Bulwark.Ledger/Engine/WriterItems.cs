namespace Bulwark.Ledger.Engine;

internal enum WriterItemKind
{
    Transfer,
    Account,
    Sweep,
    CreditLeg,
    Settlement,

    /// <summary>A step of a partition move: run alone, between batches (LedgerWriter.Moves.cs).</summary>
    Control,
}

/// <summary>
/// One unit of work in the writer's queue. A struct, so that queueing a transfer allocates
/// nothing: the queue is bounded in items, and every submitted transfer is one item, which keeps
/// memory bounded by transfers however callers group them.
/// </summary>
internal readonly record struct WriterItem(WriterItemKind Kind, int Index, Submission? Owner);

/// <summary>
/// A caller waiting for its items to be committed. Its results are filled by the writer while it
/// decides a batch, and handed over only once the batch holding its last item is durable.
/// </summary>
internal abstract class Submission
{
    // Continuations run on the thread pool, never inline on the writer's thread.
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _count;
    private volatile bool _failed;

    protected Submission(int count)
    {
        _count = count;
        Remaining = count;
    }

    /// <summary>Items not yet durable; touched only by the writer thread once queued.</summary>
    public int Remaining { get; private set; }

    public Task Completion => _done.Task;

    /// <summary>
    /// Its caller has been told it failed. Its items still queued for later batches are then not
    /// decided at all: a caller told "failed" must not find them committed afterwards.
    /// </summary>
    public bool HasFailed => _failed;

    /// <summary>Some of its items were committed by an earlier batch (a submission can span batches).</summary>
    public bool AnyCommitted => Remaining < _count;

    /// <summary>Called by the writer after a commit, once per committed item.</summary>
    public void ItemCommitted()
    {
        Remaining--;
        if (Remaining == 0)
        {
            _done.TrySetResult();
        }
    }

    public void Fail(Exception error)
    {
        _failed = true;
        _done.TrySetException(error);
    }
}

internal sealed class TransferSubmission(IReadOnlyList<LedgerTransfer> transfers, IReadOnlyDictionary<UInt128, LedgerAccount>? remoteAccounts)
    : Submission(transfers.Count)
{
    public IReadOnlyList<LedgerTransfer> Transfers { get; } = transfers;

    /// <summary>Credit accounts in partitions other cells own, as their owners answered (identity only).</summary>
    public IReadOnlyDictionary<UInt128, LedgerAccount>? RemoteAccounts { get; } = remoteAccounts;

    public LedgerTransferResult[] Results { get; } = new LedgerTransferResult[transfers.Count];
}

internal sealed class AccountSubmission(IReadOnlyList<LedgerAccount> accounts) : Submission(accounts.Count)
{
    public IReadOnlyList<LedgerAccount> Accounts { get; } = accounts;

    public LedgerAccountResult[] Results { get; } = new LedgerAccountResult[accounts.Count];
}

/// <summary>A request to expire due holds; with no owner when the timer asked.</summary>
internal sealed class SweepSubmission() : Submission(1);

/// <summary>Credit legs delivered by other cells (ApplyCreditLegs).</summary>
internal sealed class CreditLegSubmission(IReadOnlyList<LedgerTransfer> legs) : Submission(legs.Count)
{
    public IReadOnlyList<LedgerTransfer> Legs { get; } = legs;

    public LedgerTransferResult[] Results { get; } = new LedgerTransferResult[legs.Count];
}

/// <summary>Owed credit legs to mark delivered or returned.</summary>
internal sealed class SettlementSubmission(IReadOnlyList<(Storage.OwedCreditLeg Owed, Storage.OwedLegState Outcome)> settlements)
    : Submission(settlements.Count)
{
    public IReadOnlyList<(Storage.OwedCreditLeg Owed, Storage.OwedLegState Outcome)> Settlements { get; } = settlements;
}

/// <summary>A move step run by the writer alone, between batches; its result is handed back once it ran.</summary>
internal sealed class ControlSubmission(Func<object?> action) : Submission(1)
{
    public Func<object?> Action { get; } = action;

    public object? Result { get; set; }
}
