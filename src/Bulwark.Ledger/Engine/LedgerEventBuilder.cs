using Bulwark.Ledger.Events;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Storage;
using Google.Protobuf;

namespace Bulwark.Ledger.Engine;

/// <summary>
/// Turns a batch's <see cref="LedgerCommit"/> into its outbox events (docs/internals/event-log.md):
/// one <see cref="PartitionChange"/> per partition the batch changed (more when one would pass
/// <see cref="LedgerLimits.EventPayloadBytesMax"/>), numbered by cell and by partition. The
/// numbering lives here, in memory, resumed from the store at load; a failed batch reloads it, so
/// a number is never skipped or used twice.
/// </summary>
internal sealed class LedgerEventBuilder(int partitionCount)
{
    private readonly Dictionary<int, long> _partitionSequences = [];
    private readonly Dictionary<int, Pending> _pending = [];
    private readonly List<Pending> _order = [];
    private long _cellSequence;

    /// <summary>The last cell sequence handed out (committed once the batch holding it commits).</summary>
    public long CellSequence => _cellSequence;

    public void Load(LedgerOutboxPosition position)
    {
        ArgumentNullException.ThrowIfNull(position);
        _cellSequence = position.CellSequence;
        _partitionSequences.Clear();
        foreach (var (partition, sequence) in position.PartitionSequences)
        {
            _partitionSequences[partition] = sequence;
        }
    }

    /// <summary>The last sequence numbered for <paramref name="partition"/> (0: none yet).</summary>
    public long PartitionSequence(int partition) => _partitionSequences.GetValueOrDefault(partition);

    /// <summary>
    /// The event of a partition this cell now owns after a move: its numbering continues from the
    /// source's <paramref name="sourceSequence"/> (or from this cell's own, if higher: a partition
    /// coming back), the event says where it came from. Numbered now; the caller writes it with the
    /// ownership in one transaction, and reloads the numbering if that fails.
    /// </summary>
    public LedgerOutboxEvent Moved(int partition, long sourceSequence, string fromCell, long epoch, long committedAtUnixMs)
    {
        _partitionSequences[partition] = Math.Max(_partitionSequences.GetValueOrDefault(partition), sourceSequence);
        var change = Pending.NewChange(partition, committedAtUnixMs);
        change.Moved = new PartitionMoved { FromCell = fromCell, Epoch = epoch };
        var commit = new LedgerCommit();
        Emit(commit, partition, change);
        return commit.Events[0];
    }

    /// <summary>
    /// Adds the batch's events to <see cref="LedgerCommit.Events"/>. <paramref name="settledPartitions"/>
    /// holds the debit partition of each of <see cref="LedgerCommit.SettledOwedLegs"/>, in the same order.
    /// </summary>
    public void Build(LedgerCommit commit, IReadOnlyList<int> settledPartitions, long committedAtUnixMs)
    {
        foreach (var (partition, account) in commit.NewAccounts)
        {
            Add(partition, account.ToProto(), committedAtUnixMs, static (change, item) => change.AccountsCreated.Add((Protos.Account)item));
        }
        foreach (var (partition, transfer) in commit.NewTransfers)
        {
            Add(partition, transfer.ToProto(), committedAtUnixMs, static (change, item) => change.TransfersWritten.Add((Protos.Transfer)item));
        }
        foreach (var hold in commit.ChangedHolds)
        {
            Add(hold.PartitionOf(partitionCount), hold.ToProto(), committedAtUnixMs, static (change, item) => change.HoldsChanged.Add((Protos.Transfer)item));
        }
        foreach (var owed in commit.NewOwedLegs)
        {
            Add(owed.Partition, owed.Leg.ToProto(), committedAtUnixMs, static (change, item) => change.OwedLegsCreated.Add((Protos.Transfer)item));
        }
        for (var i = 0; i < commit.SettledOwedLegs.Count; i++)
        {
            var (id, state) = commit.SettledOwedLegs[i];
            var settled = new OwedLegSettled { Id = id.ToProto(), Outcome = state == OwedLegState.Delivered ? OwedLegOutcome.Delivered : OwedLegOutcome.Returned };
            Add(settledPartitions[i], settled, committedAtUnixMs, static (change, item) => change.OwedLegsSettled.Add((OwedLegSettled)item));
        }
        foreach (var account in commit.Balances)
        {
            var balances = new AccountBalances
            {
                Id = account.Id.ToProto(),
                DebitsPending = account.DebitsPending,
                DebitsPosted = account.DebitsPosted,
                CreditsPending = account.CreditsPending,
                CreditsPosted = account.CreditsPosted,
            };
            Add(LedgerPartitioner.PartitionOf(account.Id, partitionCount), balances, committedAtUnixMs, static (change, item) => change.Balances.Add((AccountBalances)item));
        }
        foreach (var pending in _order)
        {
            Flush(commit, pending);
        }
        _order.Clear();
        _pending.Clear();
    }

    private void Add(int partition, IMessage item, long committedAtUnixMs, Action<PartitionChange, IMessage> add)
    {
        if (!_pending.TryGetValue(partition, out var pending))
        {
            pending = new Pending(partition, committedAtUnixMs);
            _pending.Add(partition, pending);
            _order.Add(pending);
        }
        // An item's size plus its tag and length prefix (at most 6 bytes below the payload limit).
        var size = item.CalculateSize() + 6;
        if (pending.Bytes + size > LedgerLimits.EventPayloadBytesMax && pending.Bytes > 0)
        {
            pending.Full.Add(pending.Change);
            pending.Change = Pending.NewChange(partition, committedAtUnixMs);
            pending.Bytes = 0;
        }
        add(pending.Change, item);
        pending.Bytes += size;
    }

    private void Flush(LedgerCommit commit, Pending pending)
    {
        foreach (var change in pending.Full)
        {
            Emit(commit, pending.Partition, change);
        }
        Emit(commit, pending.Partition, pending.Change);
    }

    private void Emit(LedgerCommit commit, int partition, PartitionChange change)
    {
        var partitionSequence = _partitionSequences.GetValueOrDefault(partition) + 1;
        _partitionSequences[partition] = partitionSequence;
        _cellSequence++;
        commit.Events.Add(new LedgerOutboxEvent(_cellSequence, partition, partitionSequence, (int)LedgerEventKind.PartitionChange,
            change.ToByteArray(), change.CommittedAtUnixMs));
    }

    private sealed class Pending(int partition, long committedAtUnixMs)
    {
        public int Partition { get; } = partition;

        public PartitionChange Change { get; set; } = NewChange(partition, committedAtUnixMs);

        public List<PartitionChange> Full { get; } = [];

        public int Bytes { get; set; }

        public static PartitionChange NewChange(int partition, long committedAtUnixMs) =>
            new() { FormatVersion = LedgerEventFormat.Version, Partition = (uint)partition, CommittedAtUnixMs = committedAtUnixMs };
    }
}
