using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger.Tests.Support;

/// <summary>A store that forwards to a real one, with hooks to fail, block or corrupt it.</summary>
public sealed class HookedStore(ILedgerStore inner) : ILedgerStore
{
    /// <summary>Runs before every commit; throw to make the commit fail (nothing is written).</summary>
    public Action<LedgerCommit>? BeforeCommit { get; set; }

    /// <summary>Changes the accounts the writer loads into its cache.</summary>
    public Func<IReadOnlyList<LedgerAccount>, IReadOnlyList<LedgerAccount>>? OnLoadAccounts { get; set; }

    /// <summary>Runs before every import of a partition's rows; throw to make it fail (nothing is written).</summary>
    public Action<int, PartitionRowSet>? BeforeImport { get; set; }

    public int Commits { get; private set; }

    public int Loads { get; private set; }

    /// <summary>How many times the relay (or anyone) read the outbox.</summary>
    public int OutboxReads { get; private set; }

    public List<int> CommitSizes { get; } = [];

    public void Open(int partitionCount) => inner.Open(partitionCount);

    public IReadOnlyList<LedgerAccount> LoadAccounts()
    {
        Loads++;
        var accounts = inner.LoadAccounts();
        return OnLoadAccounts?.Invoke(accounts) ?? accounts;
    }

    public LedgerWriterPosition LoadPosition() => inner.LoadPosition();

    public LedgerCellRecord? LoadCell() => inner.LoadCell();

    public LedgerOutboxPosition LoadOutboxPosition() => inner.LoadOutboxPosition();

    public Task<IReadOnlyList<LedgerOutboxEvent>> ReadOutboxAsync(long afterCellSequence, int limit, CancellationToken cancellationToken)
    {
        OutboxReads++;
        return inner.ReadOutboxAsync(afterCellSequence, limit, cancellationToken);
    }

    public void InitialiseCell(string cell, string clusterId, IReadOnlyList<int> owned) => inner.InitialiseCell(cell, clusterId, owned);

    public LedgerTransfer? FindTransfer(UInt128 id) => inner.FindTransfer(id);

    public LedgerTransfer? FindLeg(UInt128 id, TransferLeg leg) => inner.FindLeg(id, leg);

    public IReadOnlyList<LedgerTransfer> FindExpiredHolds(long nowUnixMs, int limit, IReadOnlyCollection<int> notServed) => inner.FindExpiredHolds(nowUnixMs, limit, notServed);

    public IReadOnlyList<LedgerAccount> LoadAccounts(int partition) => inner.LoadAccounts(partition);

    public void SaveMoveStep(MoveStep step) => inner.SaveMoveStep(step);

    public void ImportPartitionRows(int partition, PartitionRowSet rows, PartitionImportRecord progress)
    {
        BeforeImport?.Invoke(partition, rows);
        inner.ImportPartitionRows(partition, rows, progress);
    }

    public PartitionDigestValue DigestPartition(int partition, PartitionDigestPrefix? prefix = null)
    {
        Digests.Add(prefix);
        return inner.DigestPartition(partition, prefix);
    }

    /// <summary>The prefix each digest on the writer was given (null: the partition hashed whole).</summary>
    public List<PartitionDigestPrefix?> Digests { get; } = [];

    public long ForeignWriteMark() => inner.ForeignWriteMark();

    public Task<PartitionDigestPrefix> DigestSettledAsync(int partition, CancellationToken cancellationToken) => inner.DigestSettledAsync(partition, cancellationToken);

    public int DeletePartitionRows(int partition, int limit) => inner.DeletePartitionRows(partition, limit);

    public Task<PartitionRowSet> ExportPartitionAsync(int partition, long afterSequence, int limit,
        IReadOnlyCollection<UInt128> refreshHolds, IReadOnlyCollection<UInt128> refreshOwedLegs, CancellationToken cancellationToken) =>
        inner.ExportPartitionAsync(partition, afterSequence, limit, refreshHolds, refreshOwedLegs, cancellationToken);

    public Task<(IReadOnlyList<UInt128> PendingHolds, IReadOnlyList<UInt128> OpenOwedLegs)> GetOpenIdsAsync(int partition, CancellationToken cancellationToken) =>
        inner.GetOpenIdsAsync(partition, cancellationToken);

    public Task<UInt128?> FindRowAcrossPartitionsAsync(int partition, CancellationToken cancellationToken) =>
        inner.FindRowAcrossPartitionsAsync(partition, cancellationToken);

    public void Commit(LedgerCommit commit)
    {
        if (commit.IsEmpty)
        {
            // The end of a batch that wrote nothing: not a commit the hooks and counts are about.
            inner.Commit(commit);
            return;
        }
        BeforeCommit?.Invoke(commit);
        inner.Commit(commit);
        Commits++;
        lock (CommitSizes)
        {
            CommitSizes.Add(commit.NewTransfers.Count);
        }
    }

    public Task<IReadOnlyList<LedgerAccount>> GetAccountsAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken) =>
        inner.GetAccountsAsync(ids, cancellationToken);

    public Task<IReadOnlyList<LedgerTransfer>> GetTransfersAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken) =>
        inner.GetTransfersAsync(ids, cancellationToken);

    public Task<IReadOnlyList<LedgerTransfer>> ListAccountTransfersAsync(UInt128 accountId, long beforeSequence, long sinceUnixMs, int limit, CancellationToken cancellationToken) =>
        inner.ListAccountTransfersAsync(accountId, beforeSequence, sinceUnixMs, limit, cancellationToken);

    public Task<IReadOnlyList<OwedCreditLeg>> GetOwedCreditLegsAsync(int limit, IReadOnlyCollection<int> notServed, CancellationToken cancellationToken) =>
        inner.GetOwedCreditLegsAsync(limit, notServed, cancellationToken);

    public void Dispose() => inner.Dispose();
}
