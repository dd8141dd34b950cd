using System.Collections.Concurrent;
using Bulwark.Ledger.Protos;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Routing.Tests;

/// <summary>
/// A ledger cell for the router's tests: real gRPC over loopback Kestrel, the ledger's own
/// contract, in-memory accounts and transfers. It serves only the partitions it owns and refuses
/// the others as a real cell must (WRONG_OWNER per item with a refusal, <c>refused</c> ids,
/// <c>answered_partitions</c>, ABORTED with the refusal trailer). Tests can make it refuse more
/// (MOVING), leave partitions out of its answers, or hang.
/// </summary>
public sealed class FakeCell(string name, int partitionCount) : Protos.Ledger.LedgerBase
{
    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, Account> _accounts = [];
    private readonly Dictionary<UInt128, Transfer> _transfers = [];
    private int _refusals;

    public string Name { get; } = name;

    /// <summary>The cell's own ownership table: partition -> epoch.</summary>
    public ConcurrentDictionary<int, long> Owned { get; } = new();

    /// <summary>The owner this cell names when it refuses a partition it does not own (a real cell knows who it handed a partition to).</summary>
    public ConcurrentDictionary<int, (string Cell, long Epoch)> HandedTo { get; } = new();

    /// <summary>A refusal to give before anything else (e.g. MOVING), by partition; null serves as usual.</summary>
    public Func<int, RefusalReason?>? RefuseFirst { get; set; }

    /// <summary>Owned partitions this cell leaves out of GetTransfers' answered_partitions (as while one is moving).</summary>
    public ConcurrentDictionary<int, bool> Unanswered { get; } = new();

    /// <summary>Accepts calls and never answers them.</summary>
    public bool Hung { get; set; }

    /// <summary>Every call: its method, the placement it named and how many items it carried.</summary>
    public ConcurrentQueue<(string Method, IReadOnlyList<(int Partition, long Epoch)> Placement, int Items)> Calls { get; } = new();

    public int Refusals => Volatile.Read(ref _refusals);

    public void Own(IEnumerable<int> partitions, long epoch = 1)
    {
        foreach (var partition in partitions)
        {
            Owned[partition] = epoch;
        }
    }

    public override async Task<CreateAccountsResponse> CreateAccounts(CreateAccountsRequest request, ServerCallContext context)
    {
        await Record(nameof(CreateAccounts), request.Placement, request.Accounts.Count, context);
        var response = new CreateAccountsResponse();
        foreach (var account in request.Accounts)
        {
            if (Check(Ids.PartitionOf(account.Id, partitionCount)) is { } refusal)
            {
                response.Results.Add(new CreateAccountResult { Status = CreateAccountStatus.WrongOwner });
                AddOnce(response.Refusals, refusal);
                continue;
            }
            lock (_lock)
            {
                var duplicate = !_accounts.TryAdd(Ids.Of(account.Id), account.Clone());
                response.Results.Add(new CreateAccountResult { Status = CreateAccountStatus.Ok, Duplicate = duplicate });
            }
        }
        return response;
    }

    public override async Task<GetAccountsResponse> GetAccounts(GetAccountsRequest request, ServerCallContext context)
    {
        await Record(nameof(GetAccounts), request.Placement, request.Ids.Count, context);
        var response = new GetAccountsResponse();
        foreach (var id in request.Ids)
        {
            if (Check(Ids.PartitionOf(id, partitionCount)) is { } refusal)
            {
                response.Refused.Add(id);
                AddOnce(response.Refusals, refusal);
                continue;
            }
            lock (_lock)
            {
                if (_accounts.TryGetValue(Ids.Of(id), out var account))
                {
                    response.Accounts.Add(account);
                }
                else
                {
                    response.Missing.Add(id);
                }
            }
        }
        return response;
    }

    public override async Task<SubmitTransfersResponse> SubmitTransfers(SubmitTransfersRequest request, ServerCallContext context)
    {
        await Record(nameof(SubmitTransfers), request.Placement, request.Transfers.Count, context);
        var response = new SubmitTransfersResponse();
        foreach (var transfer in request.Transfers)
        {
            var debit = transfer.DebitAccountId;
            if ((transfer.Flags & (uint)(TransferFlags.PostPending | TransferFlags.VoidPending)) != 0 && Ids.Of(debit) == UInt128.Zero)
            {
                lock (_lock)
                {
                    if (!_transfers.TryGetValue(Ids.Of(transfer.PendingId), out var hold))
                    {
                        // As the engine: a cell that does not serve every partition cannot tell
                        // where a hold it does not have would be, so it refuses rather than say "not found".
                        if (Owned.Count == partitionCount)
                        {
                            response.Results.Add(new TransferResult { Status = TransferStatus.PendingTransferNotFound });
                        }
                        else
                        {
                            response.Results.Add(new TransferResult { Status = TransferStatus.WrongOwner });
                            AddOnce(response.Refusals, new PartitionRefusal { Partition = uint.MaxValue, Cell = Name, Reason = RefusalReason.NotOwner });
                        }
                        continue;
                    }
                    debit = hold.DebitAccountId;
                }
            }
            if (Check(Ids.PartitionOf(debit, partitionCount)) is { } refusal)
            {
                response.Results.Add(new TransferResult { Status = TransferStatus.WrongOwner });
                AddOnce(response.Refusals, refusal);
                continue;
            }
            lock (_lock)
            {
                var duplicate = !_transfers.TryAdd(Ids.Of(transfer.Id), transfer.Clone());
                response.Results.Add(new TransferResult { Status = TransferStatus.Ok, Duplicate = duplicate, Transfer = _transfers[Ids.Of(transfer.Id)] });
            }
        }
        return response;
    }

    public override async Task<ApplyCreditLegsResponse> ApplyCreditLegs(ApplyCreditLegsRequest request, ServerCallContext context)
    {
        await Record(nameof(ApplyCreditLegs), request.Placement, request.Legs.Count, context);
        var response = new ApplyCreditLegsResponse();
        foreach (var leg in request.Legs)
        {
            if (Check(Ids.PartitionOf(leg.CreditAccountId, partitionCount)) is { } refusal)
            {
                response.Results.Add(new TransferResult { Status = TransferStatus.WrongOwner });
                AddOnce(response.Refusals, refusal);
                continue;
            }
            lock (_lock)
            {
                var duplicate = !_transfers.TryAdd(Ids.Of(leg.Id), leg.Clone());
                response.Results.Add(new TransferResult { Status = TransferStatus.Ok, Duplicate = duplicate });
            }
        }
        return response;
    }

    public override async Task<GetTransfersResponse> GetTransfers(GetTransfersRequest request, ServerCallContext context)
    {
        await Record(nameof(GetTransfers), [], request.Ids.Count, context);
        var response = new GetTransfersResponse();
        var answered = new byte[(partitionCount + 7) / 8];
        foreach (var partition in Owned.Keys.Where(partition => !Unanswered.ContainsKey(partition) && RefuseFirst?.Invoke(partition) is null))
        {
            answered[partition / 8] |= (byte)(1 << (partition % 8));
        }
        response.AnsweredPartitions = ByteString.CopyFrom(answered);
        lock (_lock)
        {
            foreach (var id in request.Ids)
            {
                if (_transfers.TryGetValue(Ids.Of(id), out var transfer) && Owned.ContainsKey(Ids.PartitionOf(transfer.DebitAccountId, partitionCount)))
                {
                    response.Transfers.Add(transfer);
                }
                else
                {
                    response.Missing.Add(id);
                }
            }
        }
        return response;
    }

    public override async Task<ListAccountTransfersResponse> ListAccountTransfers(ListAccountTransfersRequest request, ServerCallContext context)
    {
        await Record(nameof(ListAccountTransfers), request.Placement, 1, context);
        if (Check(Ids.PartitionOf(request.AccountId, partitionCount)) is { } refusal)
        {
            throw new RpcException(new Status(StatusCode.Aborted, $"partition {refusal.Partition} refused: {refusal.Reason}"),
                new Metadata { { "bulwark-partition-refusal-bin", refusal.ToByteArray() } });
        }
        var response = new ListAccountTransfersResponse();
        lock (_lock)
        {
            response.Transfers.Add(_transfers.Values.Where(transfer => transfer.DebitAccountId.Equals(request.AccountId) || transfer.CreditAccountId.Equals(request.AccountId)));
        }
        return response;
    }

    /// <summary>Seeds a transfer as if it had been committed here.</summary>
    public void Put(Transfer transfer)
    {
        lock (_lock)
        {
            _transfers[Ids.Of(transfer.Id)] = transfer;
        }
    }

    private async Task Record(string method, IEnumerable<PartitionEpoch> placement, int items, ServerCallContext context)
    {
        Calls.Enqueue((method, [.. placement.Select(pair => ((int)pair.Partition, (long)pair.Epoch))], items));
        if (Hung)
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
    }

    private PartitionRefusal? Check(int partition)
    {
        if (RefuseFirst?.Invoke(partition) is { } reason)
        {
            Interlocked.Increment(ref _refusals);
            return new PartitionRefusal { Partition = (uint)partition, Reason = reason, Cell = Name };
        }
        if (Owned.ContainsKey(partition))
        {
            return null;
        }
        Interlocked.Increment(ref _refusals);
        var refusal = new PartitionRefusal { Partition = (uint)partition, Reason = RefusalReason.NotOwner, Cell = Name };
        if (HandedTo.TryGetValue(partition, out var owner))
        {
            refusal.OwnerCell = owner.Cell;
            refusal.OwnerEpoch = (ulong)owner.Epoch;
        }
        return refusal;
    }

    private static void AddOnce(Google.Protobuf.Collections.RepeatedField<PartitionRefusal> refusals, PartitionRefusal refusal)
    {
        if (!refusals.Any(existing => existing.Partition == refusal.Partition))
        {
            refusals.Add(refusal);
        }
    }
}

/// <summary>A <see cref="FakeCell"/> served over loopback HTTP/2.</summary>
public sealed class FakeCellHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeCellHost(WebApplication app, FakeCell cell, Uri address)
    {
        _app = app;
        Cell = cell;
        Address = address;
    }

    public FakeCell Cell { get; }

    public Uri Address { get; }

    public static async Task<FakeCellHost> StartAsync(FakeCell cell)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(cell);
        var app = builder.Build();
        app.MapGrpcService<FakeCell>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new FakeCellHost(app, cell, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Cell.Hung = false;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}

internal static class Ids
{
    public static UInt128 Of(Uint128? id) => id is null ? UInt128.Zero : new UInt128(id.High, id.Low);

    public static Uint128 From(UInt128 id) => new() { High = (ulong)(id >> 64), Low = (ulong)id };

    public static int PartitionOf(Uint128? id, int partitionCount) => LedgerPartitioner.PartitionOf(Of(id), partitionCount);

    /// <summary>The <paramref name="nth"/> id (from 1) whose partition is <paramref name="partition"/>.</summary>
    public static Uint128 In(int partition, int partitionCount, int nth = 1)
    {
        for (var value = UInt128.One; ; value++)
        {
            if (LedgerPartitioner.PartitionOf(value, partitionCount) == partition && --nth == 0)
            {
                return From(value);
            }
        }
    }
}
