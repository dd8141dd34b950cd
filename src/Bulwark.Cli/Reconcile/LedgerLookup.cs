using System.Globalization;
using Bulwark.Cli.Demo;
using Bulwark.Ledger.Protos;

namespace Bulwark.Cli.Reconcile;

/// <summary>Looks transfers up in the ledger by id, in bounded batches, through the placement router.</summary>
internal static class LedgerLookup
{
    /// <summary>The transfers found (the whole row, or the debit leg of one between partitions), keyed by 32-hex id; absent ids are missing.</summary>
    public static async Task<Dictionary<string, Transfer>> FindAsync(Bulwark.Ledger.Protos.Ledger.LedgerClient ledger, IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, Transfer>(StringComparer.Ordinal);
        foreach (var batch in ids.Distinct(StringComparer.Ordinal).Chunk(ReconcileLimits.TransfersPerLookupMax))
        {
            var request = new GetTransfersRequest();
            request.Ids.AddRange(batch.Select(id => Parse(id).ToProto()));
            var response = await ledger.GetTransfersAsync(request, cancellationToken: cancellationToken);
            foreach (var transfer in response.Transfers.Where(transfer => transfer.Leg is TransferLeg.Whole or TransferLeg.Debit))
            {
                found[Hex(transfer.Id)] = transfer;
            }
        }
        return found;
    }

    public static UInt128 Parse(string hex) => UInt128.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    public static string Hex(Uint128 id) => id.FromProto().ToString("x32", CultureInfo.InvariantCulture);
}
