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
