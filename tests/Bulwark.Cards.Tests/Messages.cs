using System.Globalization;
using Bulwark.Iso8583;

namespace Bulwark.Cards.Tests;

/// <summary>Requests as a scheme sends them.</summary>
public static class Messages
{
    public const string Acquirer = "123456";
    private static int _stan = 100;

    public static int NextStan() => Interlocked.Increment(ref _stan) % 1_000_000;

    public static string Rrn(int stan) => string.Create(CultureInfo.InvariantCulture, $"5326{stan:D8}");

    public static Iso8583MessageBuilder Authorisation(string pan, long amount, int stan, string expiry, string currency = "826", string merchant = "Dishoom", string mcc = "5812") =>
        new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest)
            .Set(Iso8583Fields.PrimaryAccountNumber, pan)
            .Set(Iso8583Fields.ProcessingCode, "000000")
            .Set(Iso8583Fields.Amount, amount)
            .Set(Iso8583Fields.TransmissionDateTime, "1122143015")
            .Set(Iso8583Fields.SystemsTraceAuditNumber, stan)
            .Set(Iso8583Fields.LocalTime, "153015")
            .Set(Iso8583Fields.LocalDate, "1122")
            .Set(Iso8583Fields.ExpiryDate, expiry)
            .Set(Iso8583Fields.MerchantCategoryCode, mcc)
            .Set(Iso8583Fields.PosEntryMode, "071")
            .Set(Iso8583Fields.AcquiringInstitutionId, Acquirer)
            .Set(Iso8583Fields.RetrievalReferenceNumber, Rrn(stan))
            .Set(Iso8583Fields.TerminalId, "TERM0001")
            .Set(Iso8583Fields.CardAcceptorId, "MERCHANT0000001")
            .Set(Iso8583Fields.CardAcceptorNameLocation, merchant.PadRight(23) + "London")
            .Set(Iso8583Fields.CurrencyCode, currency);

    public static Iso8583MessageBuilder Advice(string pan, long amount, int stan, string expiry, string approvalCode) =>
        Reuse(Authorisation(pan, amount, stan, expiry), MessageTypeIndicator.AuthorizationAdvice)
            .Set(Iso8583Fields.ResponseCode, "00")
            .Set(Iso8583Fields.AuthorizationIdResponse, approvalCode);

    public static Iso8583MessageBuilder Reversal(string pan, long amount, int originalStan, int reversalStan)
    {
        var original = new Iso8583OriginalDataElements(MessageTypeIndicator.AuthorizationRequest, originalStan, "1122143015",
            long.Parse(Acquirer, CultureInfo.InvariantCulture), 0);
        return new Iso8583MessageBuilder(MessageTypeIndicator.ReversalRequest)
            .Set(Iso8583Fields.PrimaryAccountNumber, pan)
            .Set(Iso8583Fields.ProcessingCode, "000000")
            .Set(Iso8583Fields.Amount, amount)
            .Set(Iso8583Fields.TransmissionDateTime, "1122143020")
            .Set(Iso8583Fields.SystemsTraceAuditNumber, reversalStan)
            .Set(Iso8583Fields.AcquiringInstitutionId, Acquirer)
            .Set(Iso8583Fields.RetrievalReferenceNumber, Rrn(originalStan))
            .Set(Iso8583Fields.CurrencyCode, "826")
            .Set(Iso8583Fields.OriginalDataElements, original.Format());
    }

    public static Iso8583MessageBuilder Echo(int stan) =>
        new Iso8583MessageBuilder(MessageTypeIndicator.NetworkManagementRequest)
            .Set(Iso8583Fields.TransmissionDateTime, "1122143015")
            .Set(Iso8583Fields.SystemsTraceAuditNumber, stan)
            .Set(Iso8583Fields.NetworkManagementCode, "301");

    private static Iso8583MessageBuilder Reuse(Iso8583MessageBuilder source, MessageTypeIndicator mti)
    {
        var message = Iso8583Message.Parse(source.ToArray());
        var builder = new Iso8583MessageBuilder(mti);
        foreach (var field in message.Fields)
        {
            builder.CopyFrom(message, field);
        }
        return builder;
    }
}
