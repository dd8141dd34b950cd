using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Storage;

/// <summary>
/// The ledger's storage seam. The engine decides everything in memory and hands the store whole
/// batches; the store only reads and writes rows (it never validates money, and the engine never
/// writes SQL). One implementation per database (SQLite now, PostgreSQL later), both passing the
/// same contract tests.
/// <para>
/// Writer methods are called only from the engine's single writer thread, one after another, and
/// may keep prepared statements on one connection. Reader methods may be called from any thread at
/// any time, beside the writer, and see committed data only.
/// </para>
/// </summary>
public interface ILedgerStore : IDisposable
{
    // ---- Writer side (one thread) ----

    /// <summary>Creates or migrates the schema; refuses a database made with another partition count.</summary>
    void Open(int partitionCount);

    /// <summary>Every account with its committed balances: the writer's cache.</summary>
    IReadOnlyList<LedgerAccount> LoadAccounts();

    /// <summary>The highest committed sequence and transfer timestamp (0 when empty).</summary>
    LedgerWriterPosition LoadPosition();

    /// <summary>The cell this store belongs to and what it owns; null for a store that is no cell's yet.</summary>
    LedgerCellRecord? LoadCell();

    /// <summary>
    /// Makes this store cell <paramref name="cell"/> of cluster <paramref name="clusterId"/>, owning
    /// <paramref name="owned"/> at epoch 1, in one transaction. Refuses (throws, writing nothing)
    /// when the store already belongs to a cell, or holds accounts of partitions it would not own.
    /// </summary>
    void InitialiseCell(string cell, string clusterId, IReadOnlyList<int> owned);

    /// <summary>A committed transfer by id (the WHOLE or DEBIT row), or null.</summary>
    LedgerTransfer? FindTransfer(UInt128 id);

    /// <summary>A committed CREDIT or RETURN leg by id, or null.</summary>
    LedgerTransfer? FindLeg(UInt128 id, TransferLeg leg);

    /// <summary>
    /// Up to <paramref name="limit"/> holds still pending whose expiry is at or before
    /// <paramref name="nowUnixMs"/>, oldest expiry first, leaving out those of
    /// <paramref name="notServed"/> (partitions the store holds a copy of without serving them).
    /// </summary>
    IReadOnlyList<LedgerTransfer> FindExpiredHolds(long nowUnixMs, int limit, IReadOnlyCollection<int> notServed);

    /// <summary>
    /// Writes one batch in ONE transaction, durable when this returns; throws (having written
    /// nothing) otherwise. Called once at the end of every batch, also with an empty commit: a
    /// store may run the batch's lookups (<see cref="FindTransfer"/>, <see cref="FindExpiredHolds"/>)
    /// in the same transaction and ends it here. A failed batch is followed by <see cref="LoadAccounts"/>,
    /// which abandons whatever the batch left open.
    /// </summary>
    void Commit(LedgerCommit commit);

    // ---- The outbox (docs/internals/event-log.md "The ledger's events") ----

    /// <summary>
    /// Where the writer's event numbering resumes: the highest cell sequence in the outbox, the
    /// last partition sequence of every partition it has numbered, and the relay's recorded watermark.
    /// </summary>
    LedgerOutboxPosition LoadOutboxPosition();

    // ---- Moving partitions (writer side; docs/internals/cells.md "Moving a partition") ----

    /// <summary>The accounts of one partition with their committed balances (the writer's cache, once it owns the partition).</summary>
    IReadOnlyList<LedgerAccount> LoadAccounts(int partition);

    /// <summary>
    /// Records a move step in ONE transaction: an ownership row to write, an import record to write
    /// or (<see cref="MoveStep.DeleteImport"/>) delete.
    /// </summary>
    void SaveMoveStep(MoveStep step);

    /// <summary>
    /// Writes rows exported by the partition's owner into this store's copy of it, and the import
    /// record's new watermark, in ONE transaction: accounts replaced whole, new transfer rows
    /// inserted (their <see cref="LedgerTransfer.Sequence"/> already this store's), refreshed rows'
    /// state, posted amount and expiry updated, owed legs replaced whole.
    /// </summary>
    void ImportPartitionRows(int partition, PartitionRowSet rows, PartitionImportRecord progress);

    /// <summary>
    /// The digest of everything the store holds of <paramref name="partition"/>, read in one
    /// transaction; given a <paramref name="prefix"/> this store took of it, only what the prefix
    /// leaves out is read (every account and owed leg, the rows above its sequence, its pending rows).
    /// </summary>
    PartitionDigestValue DigestPartition(int partition, Cells.PartitionDigestPrefix? prefix = null);

    /// <summary>
    /// Deletes up to <paramref name="limit"/> rows of <paramref name="partition"/> (transfers, then
    /// owed legs, then accounts) in one transaction; returns how many. The caller has checked that
    /// the partition is not owned here.
    /// </summary>
    int DeletePartitionRows(int partition, int limit);

    /// <summary>
    /// A number that changes whenever something other than this store's writer commits to the store
    /// (another connection or process editing it beside the bank): a writer that trusts what it
    /// hashed earlier (a move's settled prefix, a digest checked again by its change count) drops
    /// that trust when it changes. SQLite: <c>PRAGMA data_version</c> of the writer's connection.
    /// A store that cannot tell answers 0 always (PostgreSQL, for now).
    /// </summary>
    long ForeignWriteMark();

    // ---- Reader side (any thread) ----

    /// <summary>
    /// One consistent read of partition <paramref name="partition"/> for a copy elsewhere: every
    /// account, the transfer rows with a sequence above <paramref name="afterSequence"/> in sequence
    /// order (at most <paramref name="limit"/>), the current rows of <paramref name="refreshHolds"/>
    /// and the owed legs among the new rows' ids, <paramref name="refreshOwedLegs"/> and those still open.
    /// </summary>
    Task<PartitionRowSet> ExportPartitionAsync(int partition, long afterSequence, int limit,
        IReadOnlyCollection<UInt128> refreshHolds, IReadOnlyCollection<UInt128> refreshOwedLegs, CancellationToken cancellationToken);

    /// <summary>The ids of the holds this store holds pending in <paramref name="partition"/> and of its open owed legs: what a copy asks its source to refresh.</summary>
    Task<(IReadOnlyList<UInt128> PendingHolds, IReadOnlyList<UInt128> OpenOwedLegs)> GetOpenIdsAsync(int partition, CancellationToken cancellationToken);

    /// <summary>
    /// The id of a WHOLE transfer row between an account of <paramref name="partition"/> and an
    /// account of another partition (a ledger from before cells wrote a transfer between partitions
    /// as one row), or null when there is none: such a partition cannot move whole.
    /// </summary>
    Task<UInt128?> FindRowAcrossPartitionsAsync(int partition, CancellationToken cancellationToken);

    /// <summary>
    /// The settled part of <paramref name="partition"/>'s digest, hashed on one consistent read beside
    /// the writer (see <see cref="Cells.PartitionDigestPrefix"/>): a move takes it before its pause, so
    /// that the pause hashes only what may still change.
    /// </summary>
    Task<Cells.PartitionDigestPrefix> DigestSettledAsync(int partition, CancellationToken cancellationToken);


    Task<IReadOnlyList<LedgerAccount>> GetAccountsAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken);

    /// <summary>The WHOLE or DEBIT rows of these ids, in whatever partition they live (the engine filters by ownership).</summary>
    Task<IReadOnlyList<LedgerTransfer>> GetTransfersAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken);

    /// <summary>
    /// The account's rows, newest first: with a sequence below <paramref name="beforeSequence"/>, at
    /// most <paramref name="limit"/>, stopping at the first older than <paramref name="sinceUnixMs"/>.
    /// The account's rows are those in its partition: as debit account the WHOLE, DEBIT and RETURN
    /// rows, as credit account the WHOLE and CREDIT rows — never the other partition's leg of a
    /// transfer between partitions, which a cell serving both holds too.
    /// </summary>
    Task<IReadOnlyList<LedgerTransfer>> ListAccountTransfersAsync(UInt128 accountId, long beforeSequence, long sinceUnixMs, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Credit legs owed to other cells and not yet settled, oldest first, at most <paramref name="limit"/>,
    /// leaving out those of <paramref name="notServed"/> (copies this cell holds without serving them).
    /// </summary>
    Task<IReadOnlyList<OwedCreditLeg>> GetOwedCreditLegsAsync(int limit, IReadOnlyCollection<int> notServed, CancellationToken cancellationToken);

    /// <summary>Committed outbox events with a cell sequence above <paramref name="afterCellSequence"/>, in cell sequence order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<LedgerOutboxEvent>> ReadOutboxAsync(long afterCellSequence, int limit, CancellationToken cancellationToken);
}

/// <summary>
/// One event in the store's outbox, written in the transaction of the batch it describes: the
/// <paramref name="CellSequence"/>-th event of this store (from 1, no gaps), the
/// <paramref name="PartitionSequence"/>-th of <paramref name="Partition"/> (from 1, no gaps), of
/// <paramref name="Kind"/> (<see cref="Events.LedgerEventKind"/>) with its protobuf
/// <paramref name="Payload"/>, committed at <paramref name="CommittedAtUnixMs"/> (the batch's time).
/// </summary>
public sealed record LedgerOutboxEvent(long CellSequence, int Partition, long PartitionSequence, int Kind, byte[] Payload, long CommittedAtUnixMs);

/// <summary>
/// The outbox as the writer resumes it: the last cell sequence, each numbered partition's last
/// sequence (kept in the outbox even after the relay published it: pruning keeps the newest row
/// of every partition), and the highest cell sequence the relay recorded as published.
/// </summary>
public sealed record LedgerOutboxPosition(long CellSequence, long Watermark, IReadOnlyDictionary<int, long> PartitionSequences);

/// <summary>A store's cell identity, ownership table and the copies it is importing.</summary>
public sealed record LedgerCellRecord(string Cell, string ClusterId, IReadOnlyList<Cells.PartitionOwnership> Ownership)
{
    public IReadOnlyList<PartitionImportRecord> Imports { get; init; } = [];
}

/// <summary>Whether a copy being imported is still catching up or verified equal to its source.</summary>
public enum ImportRecordState
{
    Copying = 1,
    Verified = 2,
}

/// <summary>
/// A copy of a partition this store is importing from <paramref name="SourceCell"/> (which owns it
/// at <paramref name="SourceEpoch"/>), caught up to the source's sequence <paramref name="Watermark"/>.
/// Verified: it hashed as <paramref name="Digest"/>, the source's digest, when the source was paused.
/// </summary>
/// <param name="EventSequence">
/// The source's last event sequence of the partition when the copy was verified: the number the
/// partition's history in the event log has reached, which this cell continues when it owns it.
/// </param>
public sealed record PartitionImportRecord(int Partition, string SourceCell, long SourceEpoch, long Watermark, ImportRecordState State, byte[] Digest, long EventSequence = 0);

/// <summary>One step of a move, written in one transaction.</summary>
public sealed record MoveStep
{
    public Cells.PartitionOwnership? Owner { get; init; }

    public PartitionImportRecord? Import { get; init; }

    /// <summary>The partition whose import record is deleted (-1: none).</summary>
    public int DeleteImport { get; init; } = -1;

    /// <summary>An event written to the outbox in the step's transaction (a partition owned after a move), or null.</summary>
    public LedgerOutboxEvent? Event { get; init; }
}

/// <summary>Rows of one partition as its owner exported them (see <see cref="ILedgerStore.ExportPartitionAsync"/>).</summary>
public sealed record PartitionRowSet(
    IReadOnlyList<LedgerAccount> Accounts,
    IReadOnlyList<LedgerTransfer> Transfers,
    IReadOnlyList<LedgerTransfer> Refreshed,
    IReadOnlyList<OwedCreditLeg> OwedLegs,
    long Watermark,
    bool More);

/// <summary>A partition's digest as one store holds it (<see cref="Cells.PartitionDigestBuilder"/>).</summary>
/// <param name="EventSequence">The partition's last event sequence at the digest's cell (not part of the rows compared).</param>
public sealed record PartitionDigestValue(byte[] Sha256, long Accounts, long Transfers, long OwedLegs, long LastSequence, long EventSequence = 0)
{
    public bool SameRows(PartitionDigestValue other) =>
        other is not null && Sha256.AsSpan().SequenceEqual(other.Sha256) && Accounts == other.Accounts && Transfers == other.Transfers && OwedLegs == other.OwedLegs;

    public override string ToString() =>
        $"{Accounts} accounts, {Transfers} transfer rows, {OwedLegs} owed legs, sha256 {Convert.ToHexStringLower(Sha256)[..16]}…";
}

/// <summary>What became of a credit leg owed to another cell.</summary>
public enum OwedLegState
{
    Owed = 0,
    Delivered = 1,
    Returned = 2,
}

/// <summary>
/// A credit leg the debit cell owes the credit account's cell: the leg as it will be written there
/// (<see cref="LedgerTransfer.Leg"/> CREDIT, the transfer's id), recorded in the debit partition in
/// the same batch as the debit leg, so that it moves with the partition and survives any crash.
/// </summary>
public sealed record OwedCreditLeg(int Partition, LedgerTransfer Leg, OwedLegState State);


/// <summary>Where the writer resumes: the last sequence and timestamp it handed out.</summary>
public readonly record struct LedgerWriterPosition(long Sequence, long TimestampUnixMs);

/// <summary>A row to write with the partition it belongs to (for a transfer: see <see cref="LedgerTransfer.PartitionOf"/>).</summary>
public readonly record struct Partitioned<T>(int Partition, T Row);

/// <summary>
/// Everything one batch writes. Lists are in the order the rows were decided; each touched
/// account appears once in <see cref="Balances"/> with its final balances.
/// </summary>
public sealed class LedgerCommit
{
    /// <summary>New accounts (with zero balances; their balances, if touched, are in <see cref="Balances"/>).</summary>
    public List<Partitioned<LedgerAccount>> NewAccounts { get; } = [];

    /// <summary>New transfers in sequence order, each in its final state for this batch.</summary>
    public List<Partitioned<LedgerTransfer>> NewTransfers { get; } = [];

    /// <summary>Holds committed earlier whose state or posted amount changed in this batch.</summary>
    public List<LedgerTransfer> ChangedHolds { get; } = [];

    /// <summary>The final balances of every account the batch touched, once each.</summary>
    public List<LedgerAccount> Balances { get; } = [];

    /// <summary>Credit legs the batch owes other cells (partition: the debit partition).</summary>
    public List<OwedCreditLeg> NewOwedLegs { get; } = [];

    /// <summary>Owed legs settled in this batch: delivered, or returned to the debit account.</summary>
    public List<(UInt128 Id, OwedLegState State)> SettledOwedLegs { get; } = [];

    /// <summary>
    /// Non-zero on a probe: a batch with no rows of its own that must still write and commit, to
    /// prove the store commits again (<see cref="Engine.LedgerCommitHealth"/>). SQLite records the
    /// time in <c>ledger_meta</c> (<c>commit_probe</c>); PostgreSQL runs the batch's epoch fence, whose
    /// row lock makes the transaction a durable commit. No money row is touched.
    /// </summary>
    public long ProbeAtUnixMs { get; set; }

    /// <summary>The batch's events for the outbox, in cell sequence order (written in the batch's transaction).</summary>
    public List<LedgerOutboxEvent> Events { get; } = [];

    /// <summary>
    /// Non-zero when the relay has published up to this cell sequence since the last recorded
    /// watermark: the store records it, and prunes the outbox below it (keeping each partition's
    /// newest event), in the batch's transaction.
    /// </summary>
    public long OutboxWatermark { get; set; }

    public bool IsEmpty => NewAccounts.Count == 0 && NewTransfers.Count == 0 && ChangedHolds.Count == 0 && Balances.Count == 0
        && NewOwedLegs.Count == 0 && SettledOwedLegs.Count == 0 && ProbeAtUnixMs == 0 && Events.Count == 0 && OutboxWatermark == 0;

    public void Clear()
    {
        ProbeAtUnixMs = 0;
        OutboxWatermark = 0;
        Events.Clear();
        NewAccounts.Clear();
        NewTransfers.Clear();
        ChangedHolds.Clear();
        Balances.Clear();
        NewOwedLegs.Clear();
        SettledOwedLegs.Clear();
    }
}
