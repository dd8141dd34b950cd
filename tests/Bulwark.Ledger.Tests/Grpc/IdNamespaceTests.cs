using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Telemetry;
using Bulwark.Ledger.Tests.Support;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Ledger.Tests.Grpc;

/// <summary>
/// Issue 11: a transfer id names who made it (its top byte), and the ledger refuses a new transfer
/// whose id is not in the namespace its caller declared. Without the check, a customer's
/// idempotency key equal to a card hold's id took that id first and the card's hold failed.
/// </summary>
public sealed class IdNamespaceTests : IAsyncLifetime
{
    private static readonly UInt128 Funding = 1;
    private static readonly UInt128 Customer = 2;

    private readonly TempDirectory _directory = new();
    private WebApplication? _app;
    private LedgerClient? _client;

    private LedgerClient Client => _client!;

    private LedgerEngine Engine => _app!.Services.GetRequiredService<LedgerEngine>();

    public async Task InitializeAsync()
    {
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Critical }, new InMemoryServiceRegistry());
        builder.Services.AddLedger(new LedgerOptions { DatabasePath = _directory.File("ledger.db") });
        _app = builder.Build();
        _app.UsePlatform();
        _app.MapLedger();
        await _app.StartAsync();
        _client = new LedgerClient(_app.Services.GetRequiredService<IServiceChannelFactory>().GetChannel("ledger"));
        var created = await Client.CreateAccountsAsync(new CreateAccountsRequest
        {
            Accounts =
            {
                new Account { Id = Funding.ToProto(), Currency = "GBP", Code = 100 },
                new Account { Id = Customer.ToProto(), Currency = "GBP", Code = 1 },
            },
        });
        Assert.All(created.Results, result => Assert.Equal(CreateAccountStatus.Ok, result.Status));
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

    private static Transfer Payment(UInt128 id, long amount = 100, TransferFlags flags = TransferFlags.None) => new()
    {
        Id = id.ToProto(),
        DebitAccountId = Funding.ToProto(),
        CreditAccountId = Customer.ToProto(),
        Amount = amount,
        Currency = "GBP",
        Code = 1,
        Flags = (uint)flags,
    };

    private async Task<TransferResult> SubmitAsync(IdNamespace declared, Transfer transfer) =>
        (await Client.SubmitTransfersAsync(new SubmitTransfersRequest { IdNamespace = declared, Transfers = { transfer } })).Results.Single();

    private async Task<bool> ExistsAsync(UInt128 id) =>
        (await Client.GetTransfersAsync(new GetTransfersRequest { Ids = { id.ToProto() } })).Transfers.Count == 1;

    [Fact]
    public void InNamespace_AnyValues_IdsOfDifferentNamespacesNeverEqual()
    {
        var random = new Random(11);
        Span<byte> bytes = stackalloc byte[16];
        for (var i = 0; i < 10_000; i++)
        {
            random.NextBytes(bytes);
            var value = new UInt128(BitConverter.ToUInt64(bytes), BitConverter.ToUInt64(bytes[8..]));

            var customer = Uint128.InNamespace(IdNamespace.Customer, value);
            var card = Uint128.InNamespace(IdNamespace.Card, value);
            var bank = Uint128.InNamespace(IdNamespace.Bank, value);

            Assert.NotEqual(customer, card);
            Assert.NotEqual(customer, bank);
            Assert.NotEqual(card, bank);
            Assert.Equal(IdNamespace.Customer, Uint128.NamespaceOf(customer));
            Assert.Equal(IdNamespace.Card, Uint128.NamespaceOf(card));
            Assert.Equal(value & Uint128.NamespaceFreeBits, card & Uint128.NamespaceFreeBits);
        }
    }

    [Fact]
    public async Task SubmitTransfers_CardIdFromCustomerCaller_IdNamespaceMismatchAndNothingWritten()
    {
        // What the attack needed: the customer's path submitting an id the card processor will use.
        var cardHoldId = Uint128.InNamespace(IdNamespace.Card, 0xABCDEF);

        var result = await SubmitAsync(IdNamespace.Customer, Payment(cardHoldId));

        Assert.Equal(TransferStatus.IdNamespaceMismatch, result.Status);
        Assert.False(await ExistsAsync(cardHoldId));
        Assert.Equal(TransferStatus.Ok, (await SubmitAsync(IdNamespace.Card, Payment(cardHoldId))).Status);
    }

    [Fact]
    public async Task SubmitTransfers_NoNamespaceDeclared_NewTransfersRefused()
    {
        var id = Uint128.InNamespace(IdNamespace.Bank, 42);

        var result = await SubmitAsync(IdNamespace.Unspecified, Payment(id));

        Assert.Equal(TransferStatus.IdNamespaceMismatch, result.Status);
        Assert.False(await ExistsAsync(id));
    }

    [Fact]
    public async Task SubmitTransfers_ForcedCustomerTransfer_IdNamespaceMismatch()
    {
        var id = Uint128.InNamespace(IdNamespace.Customer, 43);

        var result = await SubmitAsync(IdNamespace.Customer, Payment(id, flags: TransferFlags.Force));

        Assert.Equal(TransferStatus.IdNamespaceMismatch, result.Status);
        Assert.Equal(TransferStatus.Ok, (await SubmitAsync(IdNamespace.Customer, Payment(id))).Status);
    }

    [Fact]
    public async Task SubmitTransfers_MixedBatch_OnlyTheMismatchRefusedAndResultsInOrder()
    {
        var good = Uint128.InNamespace(IdNamespace.Bank, 7);
        var bad = Uint128.InNamespace(IdNamespace.Card, 7);

        var response = await Client.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers = { Payment(bad), Payment(good), Payment(UInt128.Zero) },
        });

        Assert.Equal([TransferStatus.IdNamespaceMismatch, TransferStatus.Ok, TransferStatus.IdMustNotBeZero], response.Results.Select(r => r.Status));
        Assert.Equal(good, response.Results[1].Transfer.Id.ToUInt128());
    }

    [Fact]
    public async Task SubmitTransfers_RetryOfTransferCommittedBeforeNamespaces_AnsweredAsDuplicate()
    {
        // An id from before the upgrade: its top byte names no namespace the retry declares.
        var legacy = new UInt128(0xFF00_1234_5678_9ABCUL, 0x1111_2222_3333_4444UL);
        var original = Payment(legacy, amount: 250);
        var committed = await Engine.SubmitAsync([original.ToLedger()]);
        Assert.Equal(TransferStatus.Ok, committed.Single().Status);

        var retry = await SubmitAsync(IdNamespace.Card, Payment(legacy, amount: 250));
        var other = await SubmitAsync(IdNamespace.Card, Payment(legacy, amount: 251));

        Assert.Equal(TransferStatus.Ok, retry.Status);
        Assert.True(retry.Duplicate);
        Assert.Equal(TransferStatus.IdAlreadyUsedWithDifferentBody, other.Status);
    }

    [Fact]
    public async Task SubmitTransfers_CardIdAlreadyUsed_CountedAsIdConflictOfTheCardNamespace()
    {
        var meterFactory = _app!.Services.GetRequiredService<IMeterFactory>();
        var conflicts = new ConcurrentQueue<string?>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == LedgerMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory)
                && instrument.Name == "bulwark.ledger.transfers.id_conflicts")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "namespace")
                {
                    conflicts.Enqueue(tag.Value as string);
                }
            }
        });
        listener.Start();
        var id = Uint128.InNamespace(IdNamespace.Card, 99);
        Assert.Equal(TransferStatus.Ok, (await SubmitAsync(IdNamespace.Card, Payment(id, amount: 100))).Status);

        var conflict = await SubmitAsync(IdNamespace.Card, Payment(id, amount: 200));

        Assert.Equal(TransferStatus.IdAlreadyUsedWithDifferentBody, conflict.Status);
        Assert.Equal(["card"], conflicts);
    }
}
