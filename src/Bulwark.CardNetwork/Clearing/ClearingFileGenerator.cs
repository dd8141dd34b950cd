using System.Globalization;
using Bulwark.CardNetwork.Traffic;

namespace Bulwark.CardNetwork.Clearing;

/// <summary>Why a presentment looks the way it does; written to the file so a reader can check itself.</summary>
public enum PresentmentKind
{
    /// <summary>Presented at the authorised amount.</summary>
    Exact,

    /// <summary>The authorised amount plus a tip (restaurants, bars, taxis).</summary>
    Tip,

    /// <summary>A merchant paid in another currency: the pounds differ from the authorised estimate.</summary>
    CurrencyConversion,

    /// <summary>No authorisation was ever asked for (offline, under the floor limit).</summary>
    NoAuthorization,
}

/// <summary>One presentment: the merchant's claim for money on an authorisation (or without one).</summary>
/// <param name="PresentmentId">Unique per presentment; a duplicate is the same line again, same id.</param>
/// <param name="Kind">Why the amount is what it is.</param>
/// <param name="RetrievalReferenceNumber">The RRN of the authorisation; for <see cref="PresentmentKind.NoAuthorization"/> a new one no authorisation carried.</param>
/// <param name="AuthorizationCode">Field 38 of the approval; empty without an authorisation.</param>
/// <param name="PrimaryAccountNumber">The card.</param>
/// <param name="TransactionTime">When the cardholder paid (UTC).</param>
/// <param name="MerchantCategoryCode">MCC.</param>
/// <param name="CardAcceptorId">Field 42 of the authorisation.</param>
/// <param name="TerminalId">Field 41 of the authorisation.</param>
/// <param name="MerchantName">The merchant's name.</param>
/// <param name="MerchantCity">The merchant's city.</param>
/// <param name="MerchantCountry">ISO 3166 alpha-3.</param>
/// <param name="AuthorizedAmountMinor">What was authorised in pence; 0 without an authorisation.</param>
/// <param name="AmountMinor">What is presented, in pence (currency 826): the amount to post.</param>
/// <param name="SourceCurrency">ISO 4217 numeric of the merchant's own currency (826 unless converted).</param>
/// <param name="SourceAmountMinor">The amount in the merchant's currency, minor units.</param>
public sealed record Presentment(
    string PresentmentId,
    PresentmentKind Kind,
    string RetrievalReferenceNumber,
    string AuthorizationCode,
    string PrimaryAccountNumber,
    DateTimeOffset TransactionTime,
    string MerchantCategoryCode,
    string CardAcceptorId,
    string TerminalId,
    string MerchantName,
    string MerchantCity,
    string MerchantCountry,
    long AuthorizedAmountMinor,
    long AmountMinor,
    string SourceCurrency,
    long SourceAmountMinor);

/// <summary>One business day's presentments.</summary>
/// <param name="FileId">Unique per file, e.g. <c>BWS-20261122-01</c>.</param>
/// <param name="BusinessDay">The UTC day the presented authorisations were approved.</param>
/// <param name="CreatedAt">When the file was produced.</param>
/// <param name="Presentments">In file order.</param>
public sealed record ClearingFile(string FileId, DateOnly BusinessDay, DateTimeOffset CreatedAt, IReadOnlyList<Presentment> Presentments);

/// <summary>How clearing differs from authorisation. Shares are of the day's approvals, 0-1.</summary>
public sealed record ClearingOptions
{
    /// <summary>Share of approvals at tipping merchants presented with a tip of 5-20%.</summary>
    public double TipShare { get; init; } = 0.5;

    /// <summary>Extra presentments without an authorisation, as a share of the approvals (at least one when there are any cards).</summary>
    public double NoAuthorizationShare { get; init; } = 0.02;

    /// <summary>Presentments sent twice, as a share of the presentments (at least one when there are any).</summary>
    public double DuplicateShare { get; init; } = 0.01;

    /// <summary>Largest drift between the authorised estimate and the converted amount, e.g. 0.03 = 3%.</summary>
    public double CurrencyDriftMax { get; init; } = 0.03;

    /// <summary>Throws <see cref="ArgumentException"/> for a share outside 0-1.</summary>
    public void Validate()
    {
        foreach (var (name, value) in new[] { (nameof(TipShare), TipShare), (nameof(NoAuthorizationShare), NoAuthorizationShare), (nameof(DuplicateShare), DuplicateShare), (nameof(CurrencyDriftMax), CurrencyDriftMax) })
        {
            if (double.IsNaN(value) || value is < 0 or > 1)
            {
                throw new ArgumentException($"{name} must be 0-1, not {value}.");
            }
        }
    }
}

/// <summary>
/// Turns the approvals the scheme saw into a day's presentments, the way acquirers present them:
/// most at the authorised amount, tips added at restaurants and taxis, foreign merchants converted
/// at the day's rate (so the pounds drift from the estimate), a few offline payments that were
/// never authorised, and a few presentments sent twice (the same line again, at the end of the
/// file: nothing marks it but its repeated presentment id).
/// </summary>
public static class ClearingFileGenerator
{
    /// <summary>Presentments for the approvals of <paramref name="businessDay"/> (UTC day of the authorisation).</summary>
    public static ClearingFile Generate(
        DateOnly businessDay,
        IEnumerable<AuthorizationRecord> approvals,
        IReadOnlyList<SchemeCard> cards,
        MerchantPopulation merchants,
        ClearingOptions? options = null,
        int seed = 1,
        DateTimeOffset? createdAt = null,
        int fileSequence = 1)
    {
        ArgumentNullException.ThrowIfNull(approvals);
        ArgumentNullException.ThrowIfNull(cards);
        ArgumentNullException.ThrowIfNull(merchants);
        options ??= new ClearingOptions();
        options.Validate();
        var random = new Random(seed);
        var fileId = string.Create(CultureInfo.InvariantCulture, $"BWS-{businessDay:yyyyMMdd}-{fileSequence:D2}");
        var presentments = new List<Presentment>();
        var day = approvals.Where(a => DateOnly.FromDateTime(a.TransmittedAt.UtcDateTime) == businessDay).ToList();
        foreach (var approval in day)
        {
            presentments.Add(Present(approval, fileId, presentments.Count + 1, options, random));
        }

        AddUnauthorized(presentments, businessDay, fileId, day.Count, cards, merchants, options, random);
        AddDuplicates(presentments, options, random);
        return new ClearingFile(fileId, businessDay, createdAt ?? DateTimeOffset.UtcNow, presentments);
    }

    private static Presentment Present(AuthorizationRecord approval, string fileId, int sequence, ClearingOptions options, Random random)
    {
        var merchant = approval.Merchant;
        var kind = PresentmentKind.Exact;
        var amount = approval.AmountMinor;
        var sourceAmount = amount;
        if (merchant.SettlementCurrency != SchemeMessages.PoundSterling)
        {
            // Authorised as an estimate in pounds; presented in the merchant's currency, converted today.
            kind = PresentmentKind.CurrencyConversion;
            var drift = 1 + (((random.NextDouble() * 2) - 1) * options.CurrencyDriftMax);
            amount = Math.Max(1, (long)Math.Round(approval.AmountMinor * drift));
            sourceAmount = (long)Math.Round(amount * EuroOrKronaPerPound(merchant.SettlementCurrency));
        }
        else if (merchant.Tips && random.NextDouble() < options.TipShare)
        {
            kind = PresentmentKind.Tip;
            amount = approval.AmountMinor + Math.Max(1, (long)Math.Round(approval.AmountMinor * (0.05 + (random.NextDouble() * 0.15))));
            sourceAmount = amount;
        }

        return new Presentment(
            PresentmentId(fileId, sequence),
            kind,
            approval.RetrievalReferenceNumber,
            approval.AuthorizationCode,
            approval.Card.PrimaryAccountNumber,
            WholeSeconds(approval.TransmittedAt),
            merchant.CategoryCode,
            merchant.CardAcceptorId,
            merchant.TerminalId,
            merchant.Name,
            merchant.City,
            merchant.CountryCode,
            approval.AmountMinor,
            amount,
            merchant.SettlementCurrency,
            sourceAmount);
    }

    private static void AddUnauthorized(List<Presentment> presentments, DateOnly businessDay, string fileId, int approvals, IReadOnlyList<SchemeCard> cards, MerchantPopulation merchants, ClearingOptions options, Random random)
    {
        if (cards.Count == 0 || options.NoAuthorizationShare == 0)
        {
            return;
        }

        // Offline payments (a bus tap, an in-flight purchase) reach the issuer only in clearing.
        var count = Math.Max(1, (int)Math.Round(approvals * options.NoAuthorizationShare));
        var domestic = merchants.Merchants.Where(m => m.SettlementCurrency == SchemeMessages.PoundSterling).ToList();
        for (var index = 0; index < count; index++)
        {
            var merchant = domestic.Count > 0 ? domestic[random.Next(domestic.Count)] : merchants.Merchants[0];
            var card = cards[random.Next(cards.Count)];
            var amount = Math.Min(MerchantPopulation.DrawAmount(merchant, random), 10_000);
            var time = new DateTimeOffset(businessDay.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).AddSeconds(random.Next(86_400));
            var sequence = presentments.Count + 1;

            // An RRN no authorisation carried: the file's day and sequence, prefixed 9.
            var rrn = string.Create(CultureInfo.InvariantCulture, $"9{businessDay.DayOfYear:D3}{businessDay.Year % 100:D2}{sequence:D6}");
            presentments.Add(new Presentment(
                PresentmentId(fileId, sequence),
                PresentmentKind.NoAuthorization,
                rrn,
                string.Empty,
                card.PrimaryAccountNumber,
                time,
                merchant.CategoryCode,
                merchant.CardAcceptorId,
                merchant.TerminalId,
                merchant.Name,
                merchant.City,
                merchant.CountryCode,
                0,
                amount,
                merchant.SettlementCurrency,
                amount));
        }
    }

    private static void AddDuplicates(List<Presentment> presentments, ClearingOptions options, Random random)
    {
        if (presentments.Count == 0 || options.DuplicateShare == 0)
        {
            return;
        }

        var originals = presentments.Count;
        var count = Math.Max(1, (int)Math.Round(originals * options.DuplicateShare));
        var chosen = new HashSet<int>();
        for (var attempt = 0; chosen.Count < Math.Min(count, originals) && attempt < count * 10; attempt++)
        {
            chosen.Add(random.Next(originals));
        }

        foreach (var index in chosen.Order())
        {
            presentments.Add(presentments[index]);
        }
    }

    private static DateTimeOffset WholeSeconds(DateTimeOffset time) => new(time.Ticks - (time.Ticks % TimeSpan.TicksPerSecond), time.Offset);

    private static string PresentmentId(string fileId, int sequence) =>
        string.Create(CultureInfo.InvariantCulture, $"{fileId}-{sequence:D7}");

    private static double EuroOrKronaPerPound(string currency) => currency switch
    {
        "978" => 1.17,
        "752" => 13.6,
        _ => 1.0,
    };
}
