using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Ledger;

/// <summary>
/// The bank's side of a credit two staff members approved (CreditFromBank): its "goodwill and
/// refunds" ledger account, one per currency, and the transfer id an approval names.
/// </summary>
internal sealed class BankCredits(LedgerGateway ledger)
{
    /// <summary>"Bulwark\0" in ASCII: the prefix of the bank's own ledger accounts (funding ends 1, card settlement 2).</summary>
    private const ulong BankAccountHigh = Bulwark.Platform.BankLedgerAccounts.High;

    /// <summary>Goodwill and refunds accounts: 0x03 in the top byte of the low half, the currency's letters in the bottom three.</summary>
    private const ulong GoodwillAccountTag = 0x03UL << 56;

    private readonly ConcurrentDictionary<string, bool> _opened = new(StringComparer.Ordinal);

    /// <summary>The goodwill and refunds account of <paramref name="currency"/> (three upper-case ASCII letters).</summary>
    public static UInt128 GoodwillAccountId(string currency)
    {
        ArgumentException.ThrowIfNullOrEmpty(currency);
        var letters = ((ulong)currency[0] << 16) | ((ulong)currency[1] << 8) | currency[2];
        return new UInt128(BankAccountHigh, GoodwillAccountTag | letters);
    }

    /// <summary>
    /// The transfer id of an approval's credit: a hash of the approval id alone, in the bank's
    /// namespace — so every execution of one approval sends the same id and the ledger keeps one
    /// transfer, and no customer or card id can ever equal it.
    /// </summary>
    public static UInt128 TransferId(string approvalId)
    {
        ArgumentException.ThrowIfNullOrEmpty(approvalId);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("bulwark:approval-transfer-id:v1\n" + approvalId), hash);
        return Uint128.InNamespace(IdNamespace.Bank, BinaryPrimitives.ReadUInt128BigEndian(hash));
    }

    /// <summary>Opens the currency's goodwill and refunds account unless this process already did (opening twice is harmless).</summary>
    public async Task<UInt128> GoodwillAccountAsync(string currency, ServerCallContext context)
    {
        var id = GoodwillAccountId(currency);
        if (!_opened.ContainsKey(currency))
        {
            await ledger.CreateBankAccountAsync(id, currency, context);
            _opened[currency] = true;
        }
        return id;
    }
}
