using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Ledger.Tests.Grpc;

/// <summary>
/// Two cells in one process over the real gRPC service: a call names its cell, and a cell asked
/// about a partition it does not own refuses in the contract's words — refused ids, a
/// PartitionRefusal, ABORTED with the refusal in the trailer — never "missing" or an empty page.
/// </summary>
public sealed class CellGrpcTests : IAsyncLifetime
{
    private const int Partitions = LedgerLimits.PartitionCountDefault;

    private readonly TempDirectory _directory = new();
    private WebApplication? _app;
    private LedgerClient? _client;

    private LedgerClient Client => _client!;

    public async Task InitializeAsync()
    {
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Critical }, new InMemoryServiceRegistry());
        builder.Services.AddLedgerCells(
        [
            new LedgerOptions { DatabasePath = _directory.File("a.db"), CellName = "a", InitialPartitions = Enumerable.Range(0, Partitions / 2).ToArray() },
            new LedgerOptions { DatabasePath = _directory.File("b.db"), CellName = "b", InitialPartitions = Enumerable.Range(Partitions / 2, Partitions / 2).ToArray() },
        ]);
        _app = builder.Build();
        _app.UsePlatform();
        _app.MapLedger();
        await _app.StartAsync();
        _client = new LedgerClient(_app.Services.GetRequiredService<IServiceChannelFactory>().GetChannel(LedgerCells.ServiceName("a")));
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        _directory.Dispose();
    }

    private static Metadata Cell(string cell) => new() { { LedgerCells.CellHeader, cell } };

    private static UInt128 AccountIn(bool upper, int from = 1)
    {
        var id = from;
        while (LedgerPartitioner.PartitionOf((UInt128)id, Partitions) >= Partitions / 2 != upper)
        {
            id++;
        }
        return (UInt128)id;
    }

    [Fact]
    public async Task GetAccounts_AccountOfTheOtherCell_RefusedWithItsPartitionNeverMissing()
    {
        var upper = AccountIn(upper: true);
        var created = await Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { new Account { Id = upper.ToProto(), Currency = "GBP", Code = 1 } } }, Cell("b"));
        Assert.Equal(CreateAccountStatus.Ok, created.Results[0].Status);
        var lowerMissing = AccountIn(upper: false);

        var asked = await Client.GetAccountsAsync(new GetAccountsRequest { Ids = { upper.ToProto(), lowerMissing.ToProto() } }, Cell("a"));

        Assert.Empty(asked.Accounts);
        Assert.Equal([upper], asked.Refused.Select(id => id.ToUInt128()));
        Assert.Equal([lowerMissing], asked.Missing.Select(id => id.ToUInt128()));
        var refusal = Assert.Single(asked.Refusals);
        Assert.Equal(((uint)LedgerPartitioner.PartitionOf(upper, Partitions), RefusalReason.NotOwner, "a"), (refusal.Partition, refusal.Reason, refusal.Cell));
        var owner = await Client.GetAccountsAsync(new GetAccountsRequest { Ids = { upper.ToProto() } }, Cell("b"));
        Assert.Single(owner.Accounts);
    }

    [Fact]
    public async Task ListAccountTransfers_AccountOfTheOtherCell_AbortedWithTheRefusalInTheTrailer()
    {
        var upper = AccountIn(upper: true);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Client.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = upper.ToProto() }, Cell("a")));

        Assert.Equal(StatusCode.Aborted, error.StatusCode);
        var trailer = error.Trailers.GetValueBytes(LedgerCells.RefusalTrailer);
        Assert.NotNull(trailer);
        var refusal = PartitionRefusal.Parser.ParseFrom(trailer);
        Assert.Equal(((uint)LedgerPartitioner.PartitionOf(upper, Partitions), RefusalReason.NotOwner), (refusal.Partition, refusal.Reason));
    }

    [Fact]
    public async Task GetTransfers_AnswersOnlyForItsOwnPartitions_AndSaysWhichThoseAre()
    {
        var answer = await Client.GetTransfersAsync(new GetTransfersRequest { Ids = { ((UInt128)77).ToProto() } }, Cell("a"));

        Assert.Single(answer.Missing);
        var bitmap = answer.AnsweredPartitions.ToByteArray();
        Assert.Equal(Partitions / 8, bitmap.Length);
        Assert.All(Enumerable.Range(0, Partitions), partition =>
            Assert.Equal(partition < Partitions / 2, (bitmap[partition / 8] & (1 << (partition % 8))) != 0));
    }

    [Fact]
    public async Task Submit_EpochNamedAheadOfTheCells_RefusedEpochAheadAndNothingWritten()
    {
        var lower = AccountIn(upper: false);
        var other = AccountIn(upper: false, from: (int)lower + 1);
        await Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { new Account { Id = lower.ToProto(), Currency = "GBP", Code = 1 }, new Account { Id = other.ToProto(), Currency = "GBP", Code = 1 } } }, Cell("a"));
        var partition = (uint)LedgerPartitioner.PartitionOf(other, Partitions);

        var reply = await Client.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers = { new Transfer { Id = Uint128.InNamespace(IdNamespace.Bank, 5).ToProto(), DebitAccountId = other.ToProto(), CreditAccountId = lower.ToProto(), Amount = 1, Currency = "GBP", Code = 1 } },
            Placement = { new PartitionEpoch { Partition = partition, Epoch = 2 } },
        }, Cell("a"));

        Assert.Equal(TransferStatus.WrongOwner, reply.Results[0].Status);
        Assert.Equal(RefusalReason.EpochAhead, Assert.Single(reply.Refusals).Reason);
        var lookup = await Client.GetTransfersAsync(new GetTransfersRequest { Ids = { Uint128.InNamespace(IdNamespace.Bank, 5).ToProto() } }, Cell("a"));
        Assert.Empty(lookup.Transfers);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("zz")]
    public async Task Call_NamingNoCellOrACellNotHere_FailedPreconditionNamingTheCellsServed(string? cell)
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Client.GetAccountsAsync(new GetAccountsRequest { Ids = { ((UInt128)1).ToProto() } }, cell is null ? [] : Cell(cell)));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("a, b", error.Status.Detail, StringComparison.Ordinal);
    }
}
