using System.Buffers.Binary;
using System.Globalization;
using Bulwark.Ledger.Protos;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace Bulwark.Edge.Staff.Operator;

/// <summary>
/// The operator gateway's check of a ledger <c>SubmitTransfers</c>: the one money movement a staff
/// member makes alone from the command line is an opening balance (<c>bulwark customers create
/// --opening-balance</c>) — a plain transfer, in the bank's namespace, from the bank's funding account
/// (which stands for money arriving from outside the bank) into an account, of at most
/// <see cref="AmountMax"/>. Anything else — a debit of a customer's account, a hold, a post or void,
/// another namespace — is refused before it is audited or forwarded: a credit from the bank's own
/// money goes through maker-checker (the console), and a customer's money moves only by the customer.
/// The transfers that pass are written into the audit entry (ids, accounts, amounts).
/// </summary>
internal static class OperatorOpeningBalance
{
    /// <summary>The bank's funding account (the demo seeder's and <c>customers create</c>'s): "Bulwark\0" then 1.</summary>
    public static readonly UInt128 FundingAccountId = Bulwark.Platform.BankLedgerAccounts.FundingAccountId;

    /// <summary>The CLI's own bound for an opening balance (£1,000,000.00, CustomersCommand.OpeningBalanceMinorMax).</summary>
    public const long AmountMax = 100_000_000;

    /// <summary>Transfers in one call: the CLI sends one.</summary>
    public const int TransfersMax = 16;

    /// <summary>A request body larger than this is no opening balance (one transfer is well under 1 KiB).</summary>
    public const int BodyBytesMax = 64 * 1024;

    public sealed record Inspection(string? Refusal, IReadOnlyDictionary<string, string>? Details);

    /// <summary>Reads the call's one message (leaving the body to be forwarded as it came) and says whether it is an opening balance.</summary>
    public static async Task<Inspection> InspectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.EnableBuffering(BodyBytesMax, BodyBytesMax);
        byte[] body;
        try
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, cancellationToken);
            body = buffer.ToArray();
        }
        catch (IOException)
        {
            return Refused($"the request is over {BodyBytesMax} bytes: no opening balance is.");
        }
        finally
        {
            request.Body.Position = 0;
        }
        // One gRPC message: a flag byte (0: not compressed), a 4-byte big-endian length, the message.
        if (body.Length < 5 || body[0] != 0 || BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1, 4)) != body.Length - 5)
        {
            return Refused("the request is not one uncompressed gRPC message.");
        }
        SubmitTransfersRequest submitted;
        try
        {
            submitted = SubmitTransfersRequest.Parser.ParseFrom(body, 5, body.Length - 5);
        }
        catch (InvalidProtocolBufferException)
        {
            return Refused("the request is not a SubmitTransfersRequest.");
        }
        if (submitted.IdNamespace != IdNamespace.Bank)
        {
            return Refused($"id_namespace is {submitted.IdNamespace}; an opening balance is the bank's ({IdNamespace.Bank}).");
        }
        if (submitted.Transfers.Count is 0 or > TransfersMax)
        {
            return Refused($"{submitted.Transfers.Count} transfers; an opening balance is 1 to {TransfersMax}.");
        }
        var described = new List<string>();
        foreach (var transfer in submitted.Transfers)
        {
            var id = Hex(transfer.Id);
            if (Id(transfer.DebitAccountId) != FundingAccountId)
            {
                return Refused($"transfer {id} debits {Hex(transfer.DebitAccountId)}, not the bank's funding account: only an opening balance moves money from the command line.");
            }
            if (transfer.Flags != 0 || transfer.PendingId is not null && Id(transfer.PendingId) != UInt128.Zero || transfer.TimeoutSeconds != 0)
            {
                return Refused($"transfer {id} is a hold, a post or a void; an opening balance is a plain transfer.");
            }
            if (transfer.Amount is < 1 or > AmountMax)
            {
                return Refused(string.Create(CultureInfo.InvariantCulture, $"transfer {id} is of {transfer.Amount}; an opening balance is 1 to {AmountMax} minor units."));
            }
            described.Add(string.Create(CultureInfo.InvariantCulture, $"{id} {transfer.Amount} {transfer.Currency} to {Hex(transfer.CreditAccountId)}"));
        }
        return new Inspection(null, new Dictionary<string, string>(StringComparer.Ordinal) { ["transfers"] = string.Join("; ", described) });
    }

    private static Inspection Refused(string why) => new($"The operator gateway forwards a ledger transfer only as an opening balance: {why}", null);

    private static UInt128 Id(Uint128? id) => id is null ? UInt128.Zero : ((UInt128)id.High << 64) | id.Low;

    private static string Hex(Uint128? id) => Id(id).ToString("x32", CultureInfo.InvariantCulture);
}
