using Bulwark.Accounts.Protos;
using Bulwark.Cards.Authorisation;
using Bulwark.Cards.Journal;
using Bulwark.Cards.Telemetry;
using Bulwark.Ledger.Protos;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;

namespace Bulwark.Cards.Clearing;

/// <summary>What one ingestion did, presentment by presentment.</summary>
public sealed record ClearingReport(
    string FileId,
    int Presentments,
    int Matched,
    int AmountChanged,
    int ForcePosted,
    int Duplicates,
    int Deferred,
    IReadOnlyList<string> Refused);

/// <summary>
/// Clearing ingestion: each presentment is matched to its hold by RRN (and card), the presented
/// amount is posted, presentments without a hold are force-posted, and a presentment id is posted
/// once however often it is delivered. Every ledger transfer has an id derived from the
/// presentment id, so ingesting a file again (after a crash half-way) posts nothing twice.
/// Holds that are never presented expire in the ledger after <see cref="CardsOptions.HoldTimeoutSeconds"/>.
/// </summary>
public sealed partial class CardClearing
{
    private const uint CardPaymentCode = 4;

    private readonly CardsOptions _options;
    private readonly CardJournal _journal;
    private readonly CardProcessor _processor;
    private readonly AccountsClient _accounts;
    private readonly CardsMetrics _metrics;
    private readonly ILogger<CardClearing> _logger;

    internal CardClearing(CardsOptions options, CardJournal journal, CardProcessor processor, AccountsClient accounts, CardsMetrics metrics, ILogger<CardClearing> logger)
    {
        _options = options;
        _journal = journal;
        _processor = processor;
        _accounts = accounts;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Reads a BWCLR file (refused whole when malformed) and ingests it.</summary>
    /// <exception cref="FormatException">The file is malformed; nothing was posted.</exception>
    public Task<ClearingReport> IngestFileAsync(string path, CancellationToken cancellationToken) =>
        IngestAsync(ClearingFile.ReadFile(path), cancellationToken);

    public async Task<ClearingReport> IngestAsync(ClearingFile file, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        int matched = 0, changed = 0, forced = 0, duplicates = 0, deferred = 0;
        var refused = new List<string>();
        foreach (var presentment in file.Presentments)
        {
            var outcome = await IngestOneAsync(presentment, cancellationToken);
            switch (outcome.Kind)
            {
                case OutcomeKind.Matched: matched++; changed += outcome.AmountChanged ? 1 : 0; break;
                case OutcomeKind.ForcePosted: forced++; break;
                case OutcomeKind.Duplicate: duplicates++; break;
                case OutcomeKind.Deferred: deferred++; break;
                default:
                    refused.Add($"line {presentment.Line}: {presentment.PresentmentId}: {outcome.Reason}");
                    LogRefused(presentment.PresentmentId, presentment.Line, outcome.Reason);
                    break;
            }
        }
        LogIngested(file.FileId, file.Presentments.Count, matched, forced, duplicates, deferred, refused.Count);
        return new ClearingReport(file.FileId, file.Presentments.Count, matched, changed, forced, duplicates, deferred, refused);
    }

    /// <summary>
    /// Releases holds approved before <paramref name="cutoff"/> that no presentment has claimed
    /// (a merchant that never presents has no claim on the money), at most <paramref name="limit"/>.
    /// Returns how many were released. Run it after ingesting the day's files, so that a hold
    /// presented in them is posted, not released.
    /// </summary>
    public async Task<int> ReleaseUnpresentedAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var released = 0;
        foreach (var decision in _journal.HeldBefore(cutoff, limit))
        {
            if (await _processor.ReleaseAsync(decision.Key, cancellationToken))
            {
                released++;
            }
        }
        LogReleased(released, cutoff);
        return released;
    }

    private async Task<Outcome> IngestOneAsync(Presentment presentment, CancellationToken cancellationToken)
    {
        if (_journal.HasPresentment(presentment.PresentmentId))
        {
            return new Outcome(OutcomeKind.Duplicate);
        }
        Card card;
        try
        {
            card = await _accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = presentment.PrimaryAccountNumber }, cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            return new Outcome(OutcomeKind.Refused, Reason: "no card with this number");
        }
        var decision = _journal.FindApprovedByRetrievalReference(presentment.RetrievalReferenceNumber);
        if (decision is null || decision.CardToken != card.CardId)
        {
            return await ForcePostAsync(presentment, card, cancellationToken);
        }
        var stripe = _processor.Stripe(decision.Key);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            try
            {
                decision = await _processor.ResolveAsync(_journal.Find(decision.Key), cancellationToken);
            }
            catch (DecisionUnresolvedException)
            {
                return new Outcome(OutcomeKind.Deferred);
            }
            return decision?.State switch
            {
                DecisionState.Held => await PostAsync(presentment, decision, card, cancellationToken),
                // The hold is still waiting in the journal for the ledger: present it again later.
                DecisionState.PendingLedger => new Outcome(OutcomeKind.Deferred),
                _ => await ForcePostAsync(presentment, card, cancellationToken),
            };
        }
        finally
        {
            stripe.Release();
        }
    }

    private async Task<Outcome> PostAsync(Presentment presentment, CardDecision decision, Card card, CancellationToken cancellationToken)
    {
        // The ledger posts at most the held amount; a larger presentment (a tip, a currency
        // drift) posts the whole hold plus a second, posted transfer for the difference.
        var posted = Math.Min(presentment.Amount, decision.Amount);
        var result = await SubmitPresentmentAsync(presentment.PresentmentId, "post", new Transfer
        {
            Id = CardProcessor.ToProto(CardKeys.Post(presentment.PresentmentId)),
            PendingId = CardProcessor.ToProto(decision.HoldId),
            Amount = posted,
            Currency = decision.Currency,
            Code = CardPaymentCode,
            Flags = (uint)TransferFlags.PostPending,
        }, cancellationToken);
        if (result.Status is TransferStatus.PendingTransferExpired or TransferStatus.PendingTransferAlreadyVoided)
        {
            return await ForcePostAsync(presentment, card, cancellationToken);
        }
        if (result.Status != TransferStatus.Ok)
        {
            return new Outcome(OutcomeKind.Refused, Reason: $"the ledger refused the post: {result.Status}");
        }
        if (presentment.Amount > decision.Amount)
        {
            var difference = await SubmitPresentmentAsync(presentment.PresentmentId, "difference", Posted(CardKeys.Difference(presentment.PresentmentId), decision.DebitAccountId,
                presentment.Amount - decision.Amount, new Dictionary<string, string>(decision.Metadata) { ["presentment_id"] = presentment.PresentmentId, ["description"] = Name(decision.Metadata) + " (adjustment)" }),
                cancellationToken);
            if (difference.Status != TransferStatus.Ok)
            {
                _journal.RememberPresentment(presentment.PresentmentId, CardKeys.Post(presentment.PresentmentId));
                _journal.Save(decision with { State = DecisionState.Presented });
                return new Outcome(OutcomeKind.Refused, Reason: $"hold posted, but the ledger refused the difference of {presentment.Amount - decision.Amount}: {difference.Status}");
            }
        }
        _journal.RememberPresentment(presentment.PresentmentId, CardKeys.Post(presentment.PresentmentId));
        _journal.Save(decision with { State = DecisionState.Presented });
        return new Outcome(OutcomeKind.Matched, AmountChanged: presentment.Amount != decision.Amount);
    }

    private async Task<Outcome> ForcePostAsync(Presentment presentment, Card card, CancellationToken cancellationToken)
    {
        var id = CardKeys.ForcePost(presentment.PresentmentId);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["merchant_name"] = presentment.MerchantName,
            ["description"] = presentment.MerchantName,
            ["mcc"] = presentment.Mcc,
            ["category"] = MerchantCategories.Category(presentment.Mcc),
            ["rrn"] = presentment.RetrievalReferenceNumber,
            ["presentment_id"] = presentment.PresentmentId,
        };
        var result = await SubmitPresentmentAsync(presentment.PresentmentId, "force_post", Posted(id, CardJournal.ParseHex(card.LedgerAccountId), presentment.Amount, metadata), cancellationToken);
        if (result.Status != TransferStatus.Ok)
        {
            // Forced, so never for funds: an unknown account or a currency the ledger refuses.
            return new Outcome(OutcomeKind.Refused, Reason: $"the ledger refused the force-post: {result.Status}");
        }
        _journal.RememberPresentment(presentment.PresentmentId, id);
        return new Outcome(OutcomeKind.ForcePosted);
    }

    /// <summary>
    /// A presented amount the scheme has settled with the bank: recorded whatever the account's
    /// balance (<see cref="TransferFlags.Force"/>; the account may go past its overdraft and the
    /// bank collects), so the ledger never holds less than the bank paid out.
    /// </summary>
    private Transfer Posted(UInt128 id, UInt128 debit, long amount, Dictionary<string, string> metadata) => new()
    {
        Id = CardProcessor.ToProto(id),
        DebitAccountId = CardProcessor.ToProto(debit),
        CreditAccountId = CardProcessor.ToProto(_options.SettlementAccount),
        Amount = amount,
        Currency = "GBP",
        Code = CardPaymentCode,
        Flags = (uint)TransferFlags.Force,
        Metadata = { metadata },
    };

    /// <summary>
    /// Submits one of a presentment's transfers. When the ledger answers that its derived id is
    /// already used by another body, that is never left as an unposted presentment: it is counted
    /// (alert BulwarkCardsLedgerIdConflict) and logged as an error, and the transfer found under the
    /// id is read. If it is this presentment's own (posted before with other values, e.g. a
    /// corrected file whose first version was lost from the journal), posting again would charge
    /// twice: the refusal stands, and the report names it for an operator. Otherwise the id was
    /// taken by a stranger (a transfer from before id namespaces), and the presentment is posted
    /// under <see cref="CardKeys.Alternative"/>, the same on every ingestion.
    /// </summary>
    private async Task<TransferResult> SubmitPresentmentAsync(string presentmentId, string kind, Transfer transfer, CancellationToken cancellationToken)
    {
        var result = await SubmitAsync(transfer, cancellationToken);
        if (result.Status != TransferStatus.IdAlreadyUsedWithDifferentBody)
        {
            return result;
        }
        _metrics.IdConflict(kind);
        var takenId = Hex(transfer.Id);
        var existing = await _processor.FindTransferAsync(transfer.Id, DateTime.UtcNow + (_options.DeadlineBudget * 10), cancellationToken);
        if (existing is null || IsPresentmentsOwn(existing, transfer, presentmentId))
        {
            LogOwnIdConflict(presentmentId, kind, takenId);
            return result;
        }
        var alternative = transfer.Clone();
        alternative.Id = CardProcessor.ToProto(CardKeys.Alternative(CardJournal.ParseHex(takenId)));
        LogStrangerIdConflict(presentmentId, kind, takenId, Hex(alternative.Id));
        return await SubmitAsync(alternative, cancellationToken);
    }

    private static bool IsPresentmentsOwn(Transfer existing, Transfer wanted, string presentmentId) =>
        (existing.Metadata.TryGetValue("presentment_id", out var id) && id == presentmentId)
        || (wanted.PendingId is not null && existing.PendingId is not null && existing.PendingId.Equals(wanted.PendingId));

    private static string Hex(Uint128 id) => CardJournal.Hex(((UInt128)id.High << 64) | id.Low);

    private Task<TransferResult> SubmitAsync(Transfer transfer, CancellationToken cancellationToken) =>
        _processor.SubmitAsync(transfer, DateTime.UtcNow + (_options.DeadlineBudget * 10), cancellationToken);

    private static string Name(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue("merchant_name", out var name) ? name : "Card payment";

    private enum OutcomeKind
    {
        Matched,
        ForcePosted,
        Duplicate,
        Deferred,
        Refused,
    }

    private readonly record struct Outcome(OutcomeKind Kind, bool AmountChanged = false, string Reason = "");

    [LoggerMessage(EventId = 4301, Level = LogLevel.Warning, Message = "Clearing: presentment {PresentmentId} (line {Line}) not posted: {Reason}")]
    private partial void LogRefused(string presentmentId, int line, string reason);

    [LoggerMessage(EventId = 4304, Level = LogLevel.Error, Message = "Clearing: presentment {PresentmentId} ({Kind}): ledger id {TakenId} is already used by another transfer; posted under {AlternativeId} instead. See docs/runbooks/alerts.md#bulwarkcardsledgeridconflict")]
    private partial void LogStrangerIdConflict(string presentmentId, string kind, string takenId, string alternativeId);

    [LoggerMessage(EventId = 4305, Level = LogLevel.Error, Message = "Clearing: presentment {PresentmentId} ({Kind}) was already posted under {TakenId} with other values; not posted again. See docs/runbooks/alerts.md#bulwarkcardsledgeridconflict")]
    private partial void LogOwnIdConflict(string presentmentId, string kind, string takenId);

    [LoggerMessage(EventId = 4303, Level = LogLevel.Information, Message = "Clearing: released {Released} holds approved before {Cutoff} and never presented")]
    private partial void LogReleased(int released, DateTimeOffset cutoff);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Information, Message = "Clearing file {FileId}: {Count} presentments, {Matched} matched, {Forced} force-posted, {Duplicates} duplicates, {Deferred} deferred, {Refused} refused")]
    private partial void LogIngested(string fileId, int count, int matched, int forced, int duplicates, int deferred, int refused);
}
