using Bulwark.CardNetwork.Traffic;
using Bulwark.Iso8583;

namespace Bulwark.CardNetwork;

/// <summary>One authorisation as the scheme tracks it through its answer, advice and reversal.</summary>
internal sealed class AuthorizationAttempt
{
    public required SchemeCard Card { get; init; }

    public required SchemeMerchant Merchant { get; init; }

    public required long AmountMinor { get; init; }

    public required string PosEntryMode { get; init; }

    public required int SystemsTraceAuditNumber { get; init; }

    public required string RetrievalReferenceNumber { get; init; }

    /// <summary>Field 7, UTC.</summary>
    public required DateTime TransmittedAt { get; init; }

    /// <summary>Fields 12 and 13: the merchant's local time.</summary>
    public required DateTime LocalTime { get; init; }

    /// <summary>When the schedule said to send it (a <see cref="TimeProvider"/> timestamp).</summary>
    public required long ScheduledTimestamp { get; init; }

    /// <summary>The link the authorisation went to (<c>host:port</c>), null when none was up: its advice and reversal go there first.</summary>
    public string? LinkName { get; init; }
}

/// <summary>The messages the scheme originates, built from an <see cref="AuthorizationAttempt"/>.</summary>
internal static class SchemeMessages
{
    /// <summary>Processing code 000000: purchase of goods and services from the default account.</summary>
    public const string PurchaseProcessingCode = "000000";

    /// <summary>ISO 4217 numeric for GBP: every authorisation is in pounds.</summary>
    public const string PoundSterling = "826";

    public static Iso8583MessageBuilder Authorization(Iso8583MessageBuilder builder, AuthorizationAttempt attempt, string acquirer)
    {
        builder.Reset(MessageTypeIndicator.AuthorizationRequest);
        Common(builder, attempt, acquirer, attempt.SystemsTraceAuditNumber, attempt.TransmittedAt);
        return builder;
    }

    /// <summary>
    /// 0120: the advice of a stand-in decision. It carries the original STAN and RRN (it is about
    /// that authorisation), field 39 with the decision and, on approval, field 38.
    /// </summary>
    public static Iso8583MessageBuilder Advice(AuthorizationAttempt attempt, string acquirer, string responseCode, string? authorizationCode, DateTime utcNow)
    {
        var builder = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationAdvice);
        Common(builder, attempt, acquirer, attempt.SystemsTraceAuditNumber, utcNow);
        if (authorizationCode is not null)
        {
            builder.Set(Iso8583Fields.AuthorizationIdResponse, authorizationCode);
        }

        builder.Set(Iso8583Fields.ResponseCode, responseCode);
        return builder;
    }

    /// <summary>
    /// 0400: a full reversal of the original 0100. A new STAN, the original RRN, and field 90
    /// naming the original MTI, STAN and transmission time.
    /// </summary>
    public static Iso8583MessageBuilder Reversal(AuthorizationAttempt attempt, string acquirer, int stan, DateTime utcNow)
    {
        var builder = new Iso8583MessageBuilder(MessageTypeIndicator.ReversalRequest);
        Common(builder, attempt, acquirer, stan, utcNow);
        builder.Remove(Iso8583Fields.ExpiryDate);
        var original = new Iso8583OriginalDataElements(
            MessageTypeIndicator.AuthorizationRequest,
            attempt.SystemsTraceAuditNumber,
            attempt.TransmittedAt.ToString("MMddHHmmss", System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(acquirer, System.Globalization.CultureInfo.InvariantCulture),
            0);
        builder.Set(Iso8583Fields.OriginalDataElements, original.Format());
        return builder;
    }

    private static void Common(Iso8583MessageBuilder builder, AuthorizationAttempt attempt, string acquirer, int stan, DateTime transmittedAt)
    {
        builder
            .Set(Iso8583Fields.PrimaryAccountNumber, attempt.Card.PrimaryAccountNumber)
            .Set(Iso8583Fields.ProcessingCode, PurchaseProcessingCode)
            .Set(Iso8583Fields.Amount, attempt.AmountMinor)
            .Set(Iso8583Fields.TransmissionDateTime, transmittedAt)
            .Set(Iso8583Fields.SystemsTraceAuditNumber, stan)
            .Set(Iso8583Fields.LocalTime, attempt.LocalTime)
            .Set(Iso8583Fields.LocalDate, attempt.LocalTime)
            .Set(Iso8583Fields.ExpiryDate, attempt.Card.ExpiryYearMonth)
            .Set(Iso8583Fields.MerchantCategoryCode, attempt.Merchant.CategoryCode)
            .Set(Iso8583Fields.PosEntryMode, attempt.PosEntryMode)
            .Set(Iso8583Fields.AcquiringInstitutionId, acquirer)
            .Set(Iso8583Fields.RetrievalReferenceNumber, attempt.RetrievalReferenceNumber)
            .Set(Iso8583Fields.TerminalId, attempt.Merchant.TerminalId)
            .Set(Iso8583Fields.CardAcceptorId, attempt.Merchant.CardAcceptorId)
            .Set(Iso8583Fields.CardAcceptorNameLocation, attempt.Merchant.NameLocation)
            .Set(Iso8583Fields.CurrencyCode, PoundSterling);
    }
}
