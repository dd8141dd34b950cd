using Bulwark.Discovery.Etcd.Api;
using Bulwark.Platform.Placement;
using Google.Protobuf;

namespace Bulwark.Discovery.Etcd.Placement;

/// <summary>
/// Cells' birth records in etcd, beside the placement map: <c>/bulwark/placement/births/CELL</c>,
/// created only when absent (a transaction comparing the key's create revision with 0), then
/// overwritten with "born" once the store holds its identity.
/// </summary>
public sealed class EtcdCellBirths(EtcdCluster cluster, string prefix = EtcdCellBirths.PrefixDefault) : ICellBirths
{
    public const string PrefixDefault = "/bulwark/placement/births/";

    public async Task<CellBirthClaim> ClaimAsync(string cell, CancellationToken cancellationToken)
    {
        var key = Key(cell);
        var absent = new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 };
        var response = await cluster.CallAsync(
            (channel, options) => new KV.KVClient(channel).TxnAsync(new TxnRequest
            {
                Compare = { absent },
                Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(CellBirthRecords.Claimed) } } },
                Failure = { new RequestOp { RequestRange = new RangeRequest { Key = key } } },
            }, options).ResponseAsync,
            cancellationToken).ConfigureAwait(false);
        if (response.Succeeded)
        {
            return CellBirthClaim.First;
        }
        var kvs = response.Responses[0].ResponseRange.Kvs;
        return CellBirthRecords.Read(kvs.Count == 0 ? null : kvs[0].Value.ToStringUtf8());
    }

    public async Task ConfirmAsync(string cell, CancellationToken cancellationToken)
    {
        var key = Key(cell);
        await cluster.CallAsync(
            (channel, options) => new KV.KVClient(channel).PutAsync(new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(CellBirthRecords.Born) }, options).ResponseAsync,
            cancellationToken).ConfigureAwait(false);
    }

    private ByteString Key(string cell)
    {
        if (!PlacementMap.IsValidCellName(cell))
        {
            throw new ArgumentException($"'{cell}' is not a cell name.", nameof(cell));
        }
        return ByteString.CopyFromUtf8(prefix + cell);
    }
}
