using Bulwark.EventLog;
using Bulwark.EventLog.Files;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Events;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Ledger.Tests.Events;

/// <summary>A moved partition's history in the event log, on SQLite.</summary>
public sealed class SqliteMovedPartitionEventsTests : MovedPartitionEventsTests
{
    protected override string? NewPostgres(string name) => null;
}

/// <summary>A moved partition's history in the event log, on a real PostgreSQL.</summary>
public sealed class PostgresMovedPartitionEventsTests : MovedPartitionEventsTests
{
    protected override string? NewPostgres(string name) => PostgresTestServer.NewDatabase(name);
}

/// <summary>
/// A partition's history in the event log follows it (docs/internals/event-log.md): the cell that
/// owns it after a move numbers its events after the source's last, its first one saying where the
/// partition came from, so the log holds the partition as one gapless history and the new owner's
/// relay publishes without a conflict — also when the new owner restarted between the verification
/// and the ownership.
/// </summary>
public abstract class MovedPartitionEventsTests : IDisposable
{
    private const int Partitions = 16;
    private static readonly int[] LowerHalf = Enumerable.Range(0, Partitions / 2).ToArray();
    private static readonly int[] UpperHalf = Enumerable.Range(Partitions / 2, Partitions / 2).ToArray();
    private readonly TempDirectory _directory = new(inMemory: false);

    protected abstract string? NewPostgres(string name);

    public void Dispose()
    {
        _directory.Dispose();
        GC.SuppressFinalize(this);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Move_TheNewOwnerContinuesThePartitionsNumbering_TheLogHoldsOneHistory(bool targetRestarted)
    {
        using var directoryA = new TempDirectory();
        using var directoryB = new TempDirectory();
        var postgresA = NewPostgres("moveda");
        var postgresB = NewPostgres("movedb");
        await using var log = FileEventLog.Open(new FileEventLogOptions { Directory = Path.Combine(_directory.Path, "events") });
        await using var a = await TestLedger.StartAsync(directory: directoryA, partitions: Partitions, postgres: postgresA,
            options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf });
        var b = await TestLedger.StartAsync(directory: directoryB, partitions: Partitions, postgres: postgresB,
            options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });
        var payer = await a.AccountAsync(1);
        var partition = LedgerPartitioner.PartitionOf(payer, Partitions);
        var payee = await a.AccountAsync(IdInPartition(partition, from: 2));
        await a.TransferOkAsync(10, payer, payee, 500);
        Assert.Null((await Relay(a, log).PublishOnceAsync(CancellationToken.None)).Failure);
        var before = await log.GetLastSequenceAsync(partition);
        Assert.True(before > 0);

        await b.Engine.BeginImportAsync(partition, "a", 1);
        await b.Engine.ImportPartitionAsync(partition, "a", 1, await a.Engine.ExportPartitionAsync(partition, 0, 0, [], []), 0);
        await a.Engine.PausePartitionAsync(partition, 1, "b", 5_000);
        var digest = await a.Engine.DigestPartitionAsync(partition);
        Assert.Equal(before, digest.EventSequence);
        await b.Engine.VerifyImportAsync(partition, "a", 1, digest);
        await a.Engine.ReleasePartitionAsync(partition, 1, "b", digest.Sha256);
        if (targetRestarted)
        {
            // The verified copy keeps the source's numbering in the store, not only in memory.
            await b.DisposeAsync();
            b = await TestLedger.StartAsync(directory: directoryB, partitions: Partitions, postgres: postgresB,
                options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });
        }
        await using (b)
        {
            await b.Engine.OwnPartitionAsync(partition, "a", 1);
            await b.TransferOkAsync(11, payee, payer, 30);

            var published = await Relay(b, log).PublishOnceAsync(CancellationToken.None);

            Assert.Null(published.Failure);
            var history = new List<PartitionChange>();
            await foreach (var record in log.ReadAsync(partition))
            {
                history.Add(PartitionChange.Parser.ParseFrom(record.Payload.Span));
            }
            Assert.Equal(before + 2, history.Count);
            var moved = history[(int)before];
            Assert.Equal(("a", 2L), (moved.Moved.FromCell, moved.Moved.Epoch));
            Assert.Contains(history[(int)before + 1].TransfersWritten, transfer => transfer.Amount == 30);
        }
    }

    /// <summary>
    /// A partition that moves away and comes back leaves a jump in its old owner's outbox (the
    /// numbers between are the other cell's). The relay publishes what comes before the jump, waits
    /// at the jump (a gap) until the other cell has published its part — which the other cell can,
    /// since nothing of its own waits — and then the rest: the log holds each partition as one
    /// history. Before, the relay sent the jump in one append, which the log refused whole as
    /// invalid, for ever: found by the cluster's end-to-end test (ClusterCellMoveTests).
    /// </summary>
    [Fact]
    public async Task MovedAwayAndBack_TheOldOwnersOutboxJumps_TheRelayPublishesAroundTheJump_OneHistoryPerPartition()
    {
        using var directoryA = new TempDirectory();
        using var directoryB = new TempDirectory();
        await using var log = FileEventLog.Open(new FileEventLogOptions { Directory = Path.Combine(_directory.Path, "events") });
        await using var a = await TestLedger.StartAsync(directory: directoryA, partitions: Partitions, postgres: NewPostgres("backa"),
            options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf });
        await using var b = await TestLedger.StartAsync(directory: directoryB, partitions: Partitions, postgres: NewPostgres("backb"),
            options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });
        var payer = await a.AccountAsync(1);
        var partition = LedgerPartitioner.PartitionOf(payer, Partitions);
        var payee = await a.AccountAsync(IdInPartition(partition, from: 2));
        var other = await a.AccountAsync(LowerHalf.Where(p => p != partition).Select(p => IdInPartition(p, from: 100)).First());
        var otherPartition = LedgerPartitioner.PartitionOf(other, Partitions);
        var otherPayee = await a.AccountAsync(IdInPartition(otherPartition, from: (int)(ulong)other + 1));
        await a.TransferOkAsync(10, payer, payee, 500);
        await a.TransferOkAsync(11, other, otherPayee, 5);

        await MoveAsync(a, b, partition, "a", 1);
        await b.TransferOkAsync(12, payee, payer, 30);
        await MoveAsync(b, a, partition, "b", 2);
        await a.TransferOkAsync(13, payer, payee, 7);
        await a.TransferOkAsync(14, other, otherPayee, 6);

        // Cell a first: its events before the jump go in; at the jump it waits for b.
        var first = await Relay(a, log).PublishOnceAsync(CancellationToken.None);
        Assert.Equal("gap", first.Failure);
        Assert.True(first.Published > 0);
        Assert.Null((await Relay(b, log).PublishOnceAsync(CancellationToken.None)).Failure);
        Assert.Null((await Relay(a, log).PublishOnceAsync(CancellationToken.None)).Failure);

        var history = new List<(string Cell, PartitionChange Change)>();
        await foreach (var record in log.ReadAsync(partition))
        {
            history.Add((record.Cell, PartitionChange.Parser.ParseFrom(record.Payload.Span)));
        }
        // One history, written by a, then b, then a again.
        var writers = new List<string>();
        foreach (var (cell, _) in history)
        {
            if (writers.Count == 0 || writers[^1] != cell)
            {
                writers.Add(cell);
            }
        }
        Assert.Equal(["a", "b", "a"], writers);
        Assert.Equal([500L, 30L, 7L], history.SelectMany(entry => entry.Change.TransfersWritten).Select(row => row.Amount));
        Assert.Equal([("a", 2L), ("b", 3L)], history.Where(entry => entry.Change.Moved is not null).Select(entry => (entry.Change.Moved.FromCell, entry.Change.Moved.Epoch)));
        var others = new List<long>();
        await foreach (var record in log.ReadAsync(otherPartition))
        {
            others.AddRange(PartitionChange.Parser.ParseFrom(record.Payload.Span).TransfersWritten.Select(row => row.Amount));
        }
        Assert.Equal([5L, 6L], others);
    }

    /// <summary>Moves <paramref name="partition"/> from one cell to another as the mover does (copy, pause, verify, release, own).</summary>
    private static async Task MoveAsync(TestLedger from, TestLedger to, int partition, string source, long epoch)
    {
        await to.Engine.BeginImportAsync(partition, source, epoch);
        await to.Engine.ImportPartitionAsync(partition, source, epoch, await from.Engine.ExportPartitionAsync(partition, 0, 0, [], []), 0);
        await from.Engine.PausePartitionAsync(partition, epoch, to.Engine.Options.CellName, 5_000);
        var digest = await from.Engine.DigestPartitionAsync(partition);
        await to.Engine.VerifyImportAsync(partition, source, epoch, digest);
        await from.Engine.ReleasePartitionAsync(partition, epoch, to.Engine.Options.CellName, digest.Sha256);
        await to.Engine.OwnPartitionAsync(partition, source, epoch);
    }

    private static LedgerEventRelay Relay(TestLedger ledger, IEventLog log) =>
        new(ledger.Engine, log, ledger.Time, NullLogger<LedgerEventRelay>.Instance, new LedgerEventRelayMetrics());

    private static int IdInPartition(int partition, int from)
    {
        var id = from;
        while (LedgerPartitioner.PartitionOf((UInt128)id, Partitions) != partition)
        {
            id++;
        }
        return id;
    }
}
