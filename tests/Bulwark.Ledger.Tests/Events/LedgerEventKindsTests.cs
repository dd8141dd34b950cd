using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Events;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Cells;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Ledger.Tests.Events;

/// <summary>Every kind of ledger change reaches the outbox as a row image (two cells on SQLite, reaching each other in-process).</summary>
public sealed class LedgerEventKindsTests
{
    private const int Partitions = 16;
    private static readonly int[] LowerHalf = Enumerable.Range(0, Partitions / 2).ToArray();
    private static readonly int[] UpperHalf = Enumerable.Range(Partitions / 2, Partitions / 2).ToArray();

    private static int PartitionOf(UInt128 id) => LedgerPartitioner.PartitionOf(id, Partitions);

    private static int IdWhere(int from, Func<int, bool> where)
    {
        var id = from;
        while (!where(PartitionOf((UInt128)id)))
        {
            id++;
        }
        return id;
    }

    private static async Task<List<PartitionChange>> ChangesAsync(TestLedger ledger) =>
        (await ledger.Engine.ReadOutboxAsync(0, 100_000)).Select(e => PartitionChange.Parser.ParseFrom(e.Payload)).ToList();

    [Fact]
    public async Task Outbox_EveryKindOfChange_AppearsAsTheRowImageInItsPartition()
    {
        await using var a = await TestLedger.StartAsync(partitions: Partitions, options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf });
        await using var b = await TestLedger.StartAsync(partitions: Partitions, options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });
        var peers = new InProcessCellPeers(Partitions, partition => partition < Partitions / 2 ? a.Engine : b.Engine);
        using var delivery = new CreditLegDelivery(a.Engine, peers, NullLogger<CreditLegDelivery>.Instance);
        var funding = await a.AccountAsync(IdWhere(900_000, partition => partition < Partitions / 2));
        var payer = await a.AccountAsync(IdWhere(1, partition => partition < Partitions / 2 && partition != PartitionOf(funding)));
        var payee = await b.AccountAsync(IdWhere(1, partition => partition >= Partitions / 2));
        await a.TransferOkAsync(1, funding, payer, 10_000);
        // Holds: one posted, one voided, one left to expire.
        await a.TransferOkAsync(2, payer, funding, 100, TransferFlags.Pending);
        await a.TransferOkAsync(3, payer, funding, 200, TransferFlags.Pending);
        await a.TransferOkAsync(4, payer, funding, 300, TransferFlags.Pending, timeoutSeconds: 60);
        Assert.Equal(TransferStatus.Ok, (await a.SubmitAsync(TestLedger.Post(5, 2))).Status);
        Assert.Equal(TransferStatus.Ok, (await a.SubmitAsync(TestLedger.Void(6, 3))).Status);
        a.Time.Advance(TimeSpan.FromSeconds(61));
        await a.Engine.ExpireHoldsAsync();
        // Between cells: one leg delivered, one returned.
        await a.Engine.SubmitAsync([TestLedger.Transfer(7, payer, payee, 400)], await peers.FindAccountsAsync([payee], default));
        await delivery.DeliverOnceAsync(default);
        peers.Refuse = _ => TransferStatus.ExceedsCredits;
        await a.Engine.SubmitAsync([TestLedger.Transfer(8, payer, payee, 500)], await peers.FindAccountsAsync([payee], default));
        await delivery.DeliverOnceAsync(default);

        var ofA = await ChangesAsync(a);
        var ofB = await ChangesAsync(b);

        Assert.Contains(ofA.SelectMany(c => c.AccountsCreated), account => account.Id.ToUInt128() == payer);
        Assert.Contains(ofB.SelectMany(c => c.AccountsCreated), account => account.Id.ToUInt128() == payee);
        var written = ofA.SelectMany(c => c.TransfersWritten).ToList();
        Assert.Contains(written, t => t.Id.ToUInt128() == 1 && t.State == TransferState.Posted);
        Assert.Contains(written, t => t.Id.ToUInt128() == 2 && t.State == TransferState.Pending);
        Assert.Contains(written, t => t.Id.ToUInt128() == 5 && t.IsPostRow());
        Assert.Contains(written, t => t.Id.ToUInt128() == 6 && t.IsVoidRow());
        Assert.Contains(written, t => t.Id.ToUInt128() == 7 && t.Leg == TransferLeg.Debit);
        Assert.Contains(written, t => t.Id.ToUInt128() == 8 && t.Leg == TransferLeg.Return);
        Assert.Contains(ofB.SelectMany(c => c.TransfersWritten), t => t.Id.ToUInt128() == 7 && t.Leg == TransferLeg.Credit);
        var holds = ofA.SelectMany(c => c.HoldsChanged).ToList();
        Assert.Contains(holds, t => t.Id.ToUInt128() == 2 && t.State == TransferState.HoldPosted && t.PostedAmount == 100);
        Assert.Contains(holds, t => t.Id.ToUInt128() == 3 && t.State == TransferState.Voided);
        Assert.Contains(holds, t => t.Id.ToUInt128() == 4 && t.State == TransferState.Expired);
        var owed = ofA.SelectMany(c => c.OwedLegsCreated).ToList();
        Assert.Contains(owed, t => t.Id.ToUInt128() == 7 && t.Leg == TransferLeg.Credit);
        Assert.Contains(owed, t => t.Id.ToUInt128() == 8);
        var settled = ofA.SelectMany(c => c.OwedLegsSettled).ToList();
        Assert.Contains(settled, s => s.Id.ToUInt128() == 7 && s.Outcome == OwedLegOutcome.Delivered);
        Assert.Contains(settled, s => s.Id.ToUInt128() == 8 && s.Outcome == OwedLegOutcome.Returned);
        // Every event lives in the partition of what it carries.
        foreach (var change in ofA.Concat(ofB))
        {
            Assert.All(change.TransfersWritten, t => Assert.Equal(change.Partition, (uint)t.ToLedger().PartitionOf(Partitions)));
            Assert.All(change.Balances, balances => Assert.Equal(change.Partition, (uint)PartitionOf(balances.Id.ToUInt128())));
        }
    }
}

internal static class TransferRowExtensions
{
    public static bool IsPostRow(this Transfer transfer) => (transfer.Flags & (uint)TransferFlags.PostPending) != 0;

    public static bool IsVoidRow(this Transfer transfer) => (transfer.Flags & (uint)TransferFlags.VoidPending) != 0;
}
