using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Accounts.Protos;
using Bulwark.Cards.Journal;
using Bulwark.Cards.Telemetry;
using Bulwark.Iso8583;
using Bulwark.Ledger.Protos;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cards.Authorisation;

/// <summary>
/// Decides authorisations, reversals and advices. Every request for one authorisation (the
/// original, its duplicates, its reversal, its advice, the stand-in replay) runs under that
/// authorisation's lock, so they are applied one after the other and each exactly once.
/// </summary>
internal sealed partial class CardProcessor(
    CardsOptions options,
    IStandInLimit standInLimit,
    CardJournal journal,
    LedgerClient ledger,
    AccountsClient accounts,
    CardsMetrics metrics,
    TimeProvider time,
    ILogger<CardProcessor> logger)
{
    private const string LedgerCurrency = "GBP";
    private const string WireCurrency = "826";
    private const uint CardPaymentCode = 4;
    /// <summary>
    /// Authorisation locks, by hash of the key. Two different authorisations sharing a stripe wait
    /// for each other; with about rate x latency authorisations in flight (2,000/s x 10 ms = 20) and
    /// 256 stripes, one in ten waited for a stranger's ledger round trip. 4,096 makes it rare.
    /// </summary>
    private const int LockStripes = 4_096;

    /// <summary>How long a hold that must be voided may be "not found" before it is taken as never placed.</summary>
    internal static readonly TimeSpan VoidNotFoundGrace = TimeSpan.FromMinutes(1);

    private readonly SemaphoreSlim[] _locks = [.. Enumerable.Range(0, LockStripes).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly ConcurrentDictionary<string, Card> _cards = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _standInExposure = new(StringComparer.Ordinal);
    private readonly AvailableBalances _balances = new(options, ledger, time);

    /// <summary>Answers a request; null when it needs no answer (a response sent to us).</summary>
    public async Task<Iso8583MessageBuilder?> HandleAsync(Iso8583Message request, CancellationToken cancellationToken)
    {
        var mti = request.Mti;
        if (!mti.IsRequest)
        {
            return null;
        }
        try
        {
            return mti.Value switch
            {
                100 => await AuthoriseAsync(request, cancellationToken),
                120 => await AdviseAsync(request, cancellationToken),
                400 or 420 => await ReverseAsync(request, cancellationToken),
                800 => Respond(request, Iso8583ResponseCodes.Approved),
                _ => Respond(request, Iso8583ResponseCodes.InvalidTransaction),
            };
        }
        catch (Iso8583FormatException error)
        {
            // A mandatory field is absent, or a value is outside what the processor accepts.
            metrics.FormatError(answered: true);
            LogFormatError(mti.ToString(), error.Message);
            return Respond(request, Iso8583ResponseCodes.FormatError);
        }
    }

    internal static Iso8583MessageBuilder Respond(Iso8583Message request, string responseCode, string? approvalCode = null)
    {
        var builder = Iso8583MessageBuilder.CreateResponse(request).Set(Iso8583Fields.ResponseCode, responseCode);
        if (approvalCode is not null)
        {
            builder.Set(Iso8583Fields.AuthorizationIdResponse, approvalCode);
        }
        return builder;
    }

    private static string Acquirer(Iso8583Message message) =>
        message.TryGetString(Iso8583Fields.AcquiringInstitutionId, out var acquirer) ? acquirer : "0";

    private async Task<Iso8583MessageBuilder> AuthoriseAsync(Iso8583Message request, CancellationToken cancellationToken)
    {
        var key = CardKeys.Authorisation(Acquirer(request), request.GetRetrievalReferenceNumber(), request.GetSystemsTraceAuditNumber());
        var amount = request.GetAmount();
        var currency = request.GetCurrencyCode();
        var pan = request.GetPrimaryAccountNumber();
        using var deadline = new CancellationTokenSource(options.DeadlineBudget);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var stripe = Stripe(key);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            var previous = await ResolveAsync(journal.Find(key), cancellationToken);
            if (previous is not null)
            {
                metrics.Duplicate();
                return Respond(request, previous.ResponseCode, Approved(previous));
            }
            if (amount <= 0 || amount > options.AmountMaxMinor)
            {
                return await DeclineAsync(request, key, Iso8583ResponseCodes.InvalidAmount);
            }
            if (currency != WireCurrency)
            {
                return await DeclineAsync(request, key, Iso8583ResponseCodes.InvalidTransaction);
            }
            if (journal.HasEarlyReversal(key))
            {
                return await DeclineAsync(request, key, Iso8583ResponseCodes.DoNotHonour);
            }
            var card = await FindCardAsync(pan, linked.Token, cancellationToken);
            if (card is null)
            {
                return await DeclineAsync(request, key, Iso8583ResponseCodes.InvalidCardNumber);
            }
            // A blocked account lets no money out: its cards decline as a frozen card does.
            if (card.Frozen || card.AccountBlocked)
            {
                return await DeclineAsync(request, key, Iso8583ResponseCodes.RestrictedCard);
            }
            if (Expired(card, request))
            {
                return await DeclineAsync(request, key, Iso8583ResponseCodes.ExpiredCard);
            }
            if (card.Currency != LedgerCurrency)
            {
                return await DeclineAsync(request, key, Iso8583ResponseCodes.InvalidTransaction);
            }
            return await HoldAsync(request, key, card, amount, linked.Token, cancellationToken);
        }
        catch (Exception error) when (error is CardLookupUnavailableException or DecisionUnresolvedException)
        {
            return await DeclineAsync(request, key, Iso8583ResponseCodes.IssuerUnavailable, journalIt: false);
        }
        finally
        {
            stripe.Release();
        }
    }

    private async Task<Iso8583MessageBuilder> HoldAsync(Iso8583Message request, string key, Card card, long amount, CancellationToken budget, CancellationToken stopping)
    {
        var decision = new CardDecision(key, Iso8583ResponseCodes.Approved, "", CardKeys.Hold(key),
            CardJournal.ParseHex(card.LedgerAccountId), amount, LedgerCurrency, card.CardId, Metadata(request, key), DecisionState.Held);
        decision = decision with { ApprovalCode = CardKeys.ApprovalCode(decision.HoldId) };
        // The intent is durable before the hold is requested (issue 11). The two writes used to
        // overlap to save one journal flush; but when the journal write failed after the ledger had
        // placed the hold, nothing remembered the hold, which then held the customer's money until
        // it expired, days later. Now a journal that cannot write means no hold at all.
        try
        {
            await journal.SaveAsync(decision with { State = DecisionState.HoldRequested }, stopping);
        }
        catch (Exception error) when (error is SqliteException or IOException or InvalidOperationException)
        {
            LogIntentNotJournalled(error, key);
            return Respond(request, Iso8583ResponseCodes.SystemMalfunction);
        }
        TransferResult result;
        try
        {
            result = await SubmitHoldAsync(decision, deadline: DateTime.UtcNow + options.DeadlineBudget, budget);
        }
        catch (Exception error) when (IsLedgerUnavailable(error, stopping))
        {
            return await StandInAsync(request, decision);
        }
        switch (result.Status)
        {
            case TransferStatus.Ok:
                // Stand-in's view of the balance is kept beside the answer, not after it.
                await _balances.AfterHoldAsync(decision.DebitAccountId, amount, budget);
                // The intent already makes the approval durable (the hold exists); recording it as
                // held saves later readers a ledger lookup and need not delay the answer.
                _ = journal.SaveAsync(decision, CancellationToken.None).ContinueWith(
                    saved => LogHeldNotRecorded(saved.Exception!, decision.Key), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                return Respond(request, Iso8583ResponseCodes.Approved, decision.ApprovalCode);
            case TransferStatus.ExceedsCredits:
                return await DeclineAsync(request, key, Iso8583ResponseCodes.InsufficientFunds);
            case TransferStatus.IdAlreadyUsedWithDifferentBody:
                // Another transfer holds this authorisation's hold id: declined (96), and an alert.
                // Journalled, unlike other 96s: the intent record would otherwise make the next
                // reader take that stranger's transfer for this authorisation's hold (approved).
                metrics.IdConflict("hold");
                LogLedgerRefusedHold(key, result.Status.ToString());
                return await DeclineAsync(request, key, Iso8583ResponseCodes.SystemMalfunction);
            default:
                LogLedgerRefusedHold(key, result.Status.ToString());
                return await DeclineAsync(request, key, Iso8583ResponseCodes.SystemMalfunction, journalIt: false);
        }
    }

    /// <summary>
    /// The ledger did not answer in time. Approve up to the card's stand-in limit (all stand-in
    /// approvals not yet in the ledger count against it) and, when the account's available
    /// balance is known (<see cref="AvailableBalances"/>), not beyond it (51); journal the decision
    /// durably, and let the replayer place the hold later with the same id. Declines are not
    /// journalled: a repeat once the ledger is back gets a real decision.
    /// </summary>
    private async Task<Iso8583MessageBuilder> StandInAsync(Iso8583Message request, CardDecision decision)
    {
        // Checked and taken in one step: two authorisations of one card run under different
        // locks (their keys differ), and both used to read the exposure before either added to it.
        if (!TryReserveStandIn(decision.CardToken, decision.Amount))
        {
            metrics.StandIn(Iso8583ResponseCodes.IssuerUnavailable);
            return await DeclineUncertainHoldAsync(request, decision, Iso8583ResponseCodes.IssuerUnavailable);
        }
        if (_balances.Available(decision.DebitAccountId) is { } available && decision.Amount > available)
        {
            ReleaseStandIn(decision.CardToken, decision.Amount);
            metrics.StandIn(Iso8583ResponseCodes.InsufficientFunds);
            return await DeclineUncertainHoldAsync(request, decision, Iso8583ResponseCodes.InsufficientFunds);
        }
        try
        {
            await journal.SaveAsync(decision with { State = DecisionState.PendingLedger });
        }
        catch
        {
            ReleaseStandIn(decision.CardToken, decision.Amount);
            throw;
        }
        _balances.Change(decision.DebitAccountId, -decision.Amount);
        _balances.StandInPending(decision.DebitAccountId, decision.Amount);
        metrics.StandIn(Iso8583ResponseCodes.Approved);
        LogStandIn(decision.Key, decision.Amount);
        return Respond(request, Iso8583ResponseCodes.Approved, decision.ApprovalCode);
    }

    /// <summary>
    /// Adds <paramref name="amount"/> to the card's stand-in exposure if that keeps it within
    /// the stand-in limit (<see cref="IStandInLimit"/>, read now: a change applies to the next decision); false (nothing added) otherwise.
    /// Atomic per card: a compare-and-swap loop on the card's entry.
    /// </summary>
    private bool TryReserveStandIn(string card, long amount)
    {
        var limit = standInLimit.PerCardMinor;
        while (true)
        {
            if (_standInExposure.TryGetValue(card, out var current))
            {
                if (current + amount > limit)
                {
                    return false;
                }
                if (_standInExposure.TryUpdate(card, current + amount, current))
                {
                    return true;
                }
            }
            else
            {
                if (amount > limit)
                {
                    return false;
                }
                if (_standInExposure.TryAdd(card, amount))
                {
                    return true;
                }
            }
        }
    }

    private void ReleaseStandIn(string card, long amount) =>
        _standInExposure.AddOrUpdate(card, 0, (_, value) => Math.Max(0, value - amount));

    /// <summary>
    /// Declines an authorisation whose hold request went unanswered: that request may still commit
    /// in the ledger, and a hold for a declined payment would keep the customer's money for days.
    /// The decline is journalled as <see cref="DecisionState.VoidRequired"/> (with the code the
    /// scheme is given, so a repeat gets the same answer) and the replayer voids the hold.
    /// </summary>
    private async Task<Iso8583MessageBuilder> DeclineUncertainHoldAsync(Iso8583Message request, CardDecision decision, string responseCode)
    {
        await journal.SaveAsync(decision with { ResponseCode = responseCode, ApprovalCode = "", State = DecisionState.VoidRequired });
        return Respond(request, responseCode);
    }

    /// <summary>
    /// Voids the holds that declined or reversed authorisations may have left
    /// (<see cref="DecisionState.VoidRequired"/>); returns how many are still waiting. A hold not
    /// found is waited for during <see cref="VoidNotFoundGrace"/> (a late request can still be in
    /// the ledger's queue), then taken as never placed.
    /// </summary>
    public async Task<int> VoidRequiredAsync(int batch, CancellationToken cancellationToken)
    {
        var waiting = 0;
        foreach (var entry in journal.VoidsRequired(batch))
        {
            var stripe = Stripe(entry.Key);
            await stripe.WaitAsync(cancellationToken);
            try
            {
                if (journal.Find(entry.Key) is not { State: DecisionState.VoidRequired } current)
                {
                    continue;
                }
                TransferResult result;
                try
                {
                    result = await SubmitAsync(VoidOf(current, CardKeys.Void(current.Key)), DateTime.UtcNow + options.DeadlineBudget * 5, cancellationToken);
                }
                catch (Exception error) when (IsLedgerUnavailable(error, cancellationToken))
                {
                    waiting++;
                    continue;
                }
                switch (result.Status)
                {
                    case TransferStatus.Ok:
                    case TransferStatus.PendingTransferAlreadyVoided:
                    case TransferStatus.PendingTransferExpired:
                        if (result.Status == TransferStatus.Ok && !result.Duplicate)
                        {
                            metrics.LateHoldVoided();
                        }
                        await journal.SaveAsync(current with { State = DecisionState.Reversed });
                        break;
                    case TransferStatus.PendingTransferNotFound
                        when journal.UpdatedAt(current.Key) is { } since && time.GetUtcNow().ToUnixTimeMilliseconds() - since > VoidNotFoundGrace.TotalMilliseconds:
                        await journal.SaveAsync(current with { State = DecisionState.Reversed });
                        break;
                    case TransferStatus.PendingTransferNotFound:
                        waiting++;
                        break;
                    default:
                        // Posted already (it cannot be voided any more): an operator looks at it.
                        metrics.LedgerRefused();
                        LogLedgerRefusedHold(current.Key, result.Status.ToString());
                        await journal.SaveAsync(current with { State = DecisionState.LedgerRefused });
                        break;
                }
            }
            finally
            {
                stripe.Release();
            }
        }
        return waiting;
    }

    /// <summary>Counts journalled stand-in approvals not yet in the ledger against their cards' limits (at start).</summary>
    public void LoadStandInExposure()
    {
        foreach (var entry in journal.PendingLedger(int.MaxValue))
        {
            _standInExposure.AddOrUpdate(entry.CardToken, entry.Amount, (_, value) => value + entry.Amount);
            _balances.StandInPending(entry.DebitAccountId, entry.Amount);
        }
    }

    /// <summary>Posts journalled decisions the ledger has not seen; returns how many are still waiting.</summary>
    public async Task<int> ReplayPendingAsync(int batch, CancellationToken cancellationToken)
    {
        var pending = journal.PendingLedger(batch);
        var waiting = 0;
        foreach (var entry in pending)
        {
            var stripe = Stripe(entry.Key);
            await stripe.WaitAsync(cancellationToken);
            try
            {
                var current = journal.Find(entry.Key);
                if (current is not { State: DecisionState.PendingLedger })
                {
                    continue;
                }
                TransferResult result;
                try
                {
                    result = await PlaceApprovedHoldAsync(current, DateTime.UtcNow + options.DeadlineBudget * 5, cancellationToken);
                }
                catch (Exception error) when (IsLedgerUnavailable(error, cancellationToken))
                {
                    waiting++;
                    continue;
                }
                var state = result.Status == TransferStatus.Ok ? DecisionState.Held : DecisionState.LedgerRefused;
                await journal.SaveAsync(current with { State = state });
                ReleaseStandIn(current.CardToken, current.Amount);
                _balances.StandInPending(current.DebitAccountId, -current.Amount);
                if (state != DecisionState.Held)
                {
                    _balances.Change(current.DebitAccountId, current.Amount);
                }
                if (state == DecisionState.Held)
                {
                    metrics.StandInPosted();
                }
                else
                {
                    metrics.LedgerRefused();
                    LogLedgerRefusedHold(current.Key, result.Status.ToString());
                }
            }
            finally
            {
                stripe.Release();
            }
        }
        return waiting;
    }

    private async Task<Iso8583MessageBuilder> AdviseAsync(Iso8583Message advice, CancellationToken cancellationToken)
    {
        var key = CardKeys.Authorisation(Acquirer(advice), advice.GetRetrievalReferenceNumber(), advice.GetSystemsTraceAuditNumber());
        var schemeCode = advice.GetResponseCode();
        var amount = advice.GetAmount();
        var pan = advice.GetPrimaryAccountNumber();
        var stripe = Stripe(key);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            CardDecision? existing;
            try
            {
                existing = await ResolveAsync(journal.Find(key), cancellationToken);
            }
            catch (DecisionUnresolvedException)
            {
                // Not acknowledged: the scheme repeats the advice until it is.
                return Respond(advice, Iso8583ResponseCodes.IssuerUnavailable);
            }
            if (existing is not null)
            {
                // Already decided here (the issuer's answer crossed the scheme's timeout): the
                // advice is acknowledged and not applied a second time.
                metrics.Duplicate();
                return Respond(advice, Iso8583ResponseCodes.Approved);
            }
            using var deadline = new CancellationTokenSource(options.DeadlineBudget);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            Card? card;
            try
            {
                card = await FindCardAsync(pan, linked.Token, cancellationToken);
            }
            catch (CardLookupUnavailableException)
            {
                // Not acknowledged: the scheme repeats the advice until it is.
                return Respond(advice, Iso8583ResponseCodes.IssuerUnavailable);
            }
            if (schemeCode != Iso8583ResponseCodes.Approved || card is null || amount <= 0)
            {
                await journal.SaveAsync(Declined(key, schemeCode == Iso8583ResponseCodes.Approved ? Iso8583ResponseCodes.InvalidCardNumber : schemeCode));
                return Respond(advice, Iso8583ResponseCodes.Approved);
            }
            var approval = advice.TryGetString(Iso8583Fields.AuthorizationIdResponse, out var code) ? code : CardKeys.ApprovalCode(CardKeys.Hold(key));
            var decision = new CardDecision(key, Iso8583ResponseCodes.Approved, approval, CardKeys.Hold(key),
                CardJournal.ParseHex(card.LedgerAccountId), amount, LedgerCurrency, card.CardId, Metadata(advice, key), DecisionState.PendingLedger);
            // The scheme has already approved: journal first, then the replayer places the hold
            // exactly once (now, or after the ledger returns).
            await journal.SaveAsync(decision);
            _standInExposure.AddOrUpdate(decision.CardToken, 0, (_, value) => value);
            _balances.Change(decision.DebitAccountId, -decision.Amount);
            _balances.StandInPending(decision.DebitAccountId, decision.Amount);
            return Respond(advice, Iso8583ResponseCodes.Approved);
        }
        finally
        {
            stripe.Release();
        }
    }

    private async Task<Iso8583MessageBuilder> ReverseAsync(Iso8583Message reversal, CancellationToken cancellationToken)
    {
        var original = reversal.GetOriginalDataElements();
        var acquirer = original.AcquiringInstitutionId != 0
            ? original.AcquiringInstitutionId.ToString(CultureInfo.InvariantCulture)
            : Acquirer(reversal);
        var key = CardKeys.Authorisation(acquirer, reversal.GetRetrievalReferenceNumber(), original.SystemsTraceAuditNumber);
        var stripe = Stripe(key);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            CardDecision? decision;
            try
            {
                decision = await ResolveAsync(journal.Find(key), cancellationToken);
            }
            catch (DecisionUnresolvedException)
            {
                // The scheme repeats a reversal it has no answer for.
                return Respond(reversal, Iso8583ResponseCodes.IssuerUnavailable);
            }
            switch (decision?.State)
            {
                case null:
                    // Unknown authorisation: it may still arrive (the reversal overtook it). Remember
                    // the reversal durably; the authorisation will then be declined.
                    journal.RememberEarlyReversal(key);
                    return Respond(reversal, Iso8583ResponseCodes.Approved);
                case DecisionState.PendingLedger:
                    ReleaseStandIn(decision.CardToken, decision.Amount);
                    _balances.StandInPending(decision.DebitAccountId, -decision.Amount);
                    _balances.Change(decision.DebitAccountId, decision.Amount);
                    // The approval's own hold request timed out and may still commit: it must end voided.
                    await journal.SaveAsync(decision with { State = DecisionState.VoidRequired });
                    return Respond(reversal, Iso8583ResponseCodes.Approved);
                case DecisionState.Held:
                    return await VoidAsync(reversal, decision, cancellationToken);
                default:
                    return Respond(reversal, Iso8583ResponseCodes.Approved);
            }
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>
    /// Releases a hold that clearing never presented: voids it in the ledger (an id derived from
    /// the authorisation, so a repeat changes nothing) and marks the decision reversed. False when
    /// the decision is no longer an unpresented hold, or the ledger refused.
    /// </summary>
    internal async Task<bool> ReleaseAsync(string key, CancellationToken cancellationToken)
    {
        var stripe = Stripe(key);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            if (await ResolveAsync(journal.Find(key), cancellationToken) is not { State: DecisionState.Held } decision)
            {
                return false;
            }
            var result = await SubmitAsync(VoidOf(decision, CardKeys.Expire(key)), DateTime.UtcNow + (options.DeadlineBudget * 10), cancellationToken);
            if (result.Status is not (TransferStatus.Ok or TransferStatus.PendingTransferAlreadyVoided or TransferStatus.PendingTransferExpired))
            {
                LogLedgerRefusedHold(key, result.Status.ToString());
                return false;
            }
            _balances.Change(decision.DebitAccountId, decision.Amount);
            await journal.SaveAsync(decision with { State = DecisionState.Reversed });
            return true;
        }
        finally
        {
            stripe.Release();
        }
    }

    private async Task<Iso8583MessageBuilder> VoidAsync(Iso8583Message reversal, CardDecision decision, CancellationToken cancellationToken)
    {
        var transfer = VoidOf(decision, CardKeys.Void(decision.Key));
        TransferResult result;
        try
        {
            result = await SubmitAsync(transfer, DateTime.UtcNow + options.DeadlineBudget, cancellationToken);
        }
        catch (Exception error) when (IsLedgerUnavailable(error, cancellationToken))
        {
            // The scheme repeats a reversal it has no answer for.
            return Respond(reversal, Iso8583ResponseCodes.IssuerUnavailable);
        }
        if (result.Status is TransferStatus.Ok or TransferStatus.PendingTransferAlreadyVoided or TransferStatus.PendingTransferExpired)
        {
            _balances.Change(decision.DebitAccountId, decision.Amount);
            await journal.SaveAsync(decision with { State = DecisionState.Reversed });
            return Respond(reversal, Iso8583ResponseCodes.Approved);
        }
        // Already posted by clearing: the money has moved and the reversal comes too late.
        LogLedgerRefusedHold(decision.Key, result.Status.ToString());
        return Respond(reversal, Iso8583ResponseCodes.InvalidTransaction);
    }

    /// <summary>
    /// Turns a <see cref="DecisionState.HoldRequested"/> or <see cref="DecisionState.VoidRequired"/>
    /// record into what it means by asking the ledger for its hold: held (recorded as such: for a
    /// void-required record, the late hold stands and the authorisation is now approved), nothing
    /// decided (null: a 91 leaves the scheme free to ask again), or, for a void-required record
    /// whose hold is already voided, the decline as it was. Other records are returned as they
    /// are. Call under the authorisation's lock.
    /// </summary>
    /// <exception cref="DecisionUnresolvedException">The ledger did not answer.</exception>
    internal async Task<CardDecision?> ResolveAsync(CardDecision? decision, CancellationToken cancellationToken)
    {
        if (decision is not { State: DecisionState.HoldRequested or DecisionState.VoidRequired })
        {
            return decision;
        }
        GetTransfersResponse found;
        try
        {
            found = await ledger.GetTransfersAsync(new GetTransfersRequest { Ids = { ToProto(decision.HoldId) } },
                deadline: DateTime.UtcNow + options.DeadlineBudget, cancellationToken: cancellationToken);
        }
        catch (Exception error) when (IsLedgerUnavailable(error, cancellationToken))
        {
            throw new DecisionUnresolvedException();
        }
        if (found.Transfers.Count == 0)
        {
            return null;
        }
        if (decision.State == DecisionState.VoidRequired)
        {
            if (found.Transfers[0].State != TransferState.Pending)
            {
                return decision;
            }
            decision = decision with { ResponseCode = Iso8583ResponseCodes.Approved, ApprovalCode = CardKeys.ApprovalCode(decision.HoldId) };
        }
        var held = decision with { State = DecisionState.Held };
        await journal.SaveAsync(held, cancellationToken);
        return held;
    }

    private async Task<Iso8583MessageBuilder> DeclineAsync(Iso8583Message request, string key, string responseCode, bool journalIt = true)
    {
        if (journalIt)
        {
            await journal.SaveAsync(Declined(key, responseCode));
        }
        return Respond(request, responseCode);
    }

    private static CardDecision Declined(string key, string responseCode) =>
        new(key, responseCode, "", UInt128.Zero, UInt128.Zero, 0, LedgerCurrency, "", new Dictionary<string, string>(), DecisionState.Declined);

    private static string? Approved(CardDecision decision) =>
        decision.ResponseCode == Iso8583ResponseCodes.Approved ? decision.ApprovalCode : null;

    private bool Expired(Card card, Iso8583Message request)
    {
        var now = time.GetUtcNow();
        if (card.ExpiryYear < now.Year || (card.ExpiryYear == now.Year && card.ExpiryMonth < now.Month))
        {
            return true;
        }
        // The expiry the terminal read must be the card's: a mismatch is a wrong or forged card.
        if (request.TryGetString(Iso8583Fields.ExpiryDate, out var yymm))
        {
            var expected = string.Create(CultureInfo.InvariantCulture, $"{card.ExpiryYear % 100:D2}{card.ExpiryMonth:D2}");
            return yymm != expected;
        }
        return false;
    }

    private async Task<Card?> FindCardAsync(string pan, CancellationToken budget, CancellationToken stopping)
    {
        var cacheKey = PanCacheKey(pan);
        try
        {
            var card = await accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = pan },
                deadline: DateTime.UtcNow + options.DeadlineBudget, cancellationToken: budget);
            _cards[cacheKey] = card;
            return card;
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            _cards.TryRemove(cacheKey, out _);
            return null;
        }
        catch (Exception error) when (IsLedgerUnavailable(error, stopping))
        {
            // Accounts is down or slow: stand-in may still decide for a card seen recently.
            return _cards.TryGetValue(cacheKey, out var cached) ? cached : throw new CardLookupUnavailableException();
        }
    }

    /// <summary>
    /// Places the hold of an authorisation that is already approved (in stand-in, here or by the
    /// scheme): the bank owes the merchant whatever the balance now is. First as an ordinary hold,
    /// the same body the approval path may have sent before it timed out (so that one, if it
    /// committed, answers as a duplicate); when that is refused for funds, as a forced hold
    /// (<see cref="TransferFlags.Force"/>) with the same id. If the timed-out original commits in
    /// between, the forced one is told its id is taken: the hold exists either way.
    /// </summary>
    private async Task<TransferResult> PlaceApprovedHoldAsync(CardDecision decision, DateTime deadline, CancellationToken cancellationToken)
    {
        var result = await SubmitHoldAsync(decision, deadline, cancellationToken);
        if (result.Status != TransferStatus.ExceedsCredits)
        {
            return result;
        }
        metrics.ForcedHold();
        var forced = await SubmitHoldAsync(decision, deadline, cancellationToken, force: true);
        return forced.Status == TransferStatus.IdAlreadyUsedWithDifferentBody
            ? new TransferResult { Status = TransferStatus.Ok, Duplicate = true }
            : forced;
    }

    /// <summary>
    /// Places the hold of an approved decision (<see cref="DecisionState.Held"/>) that the ledger
    /// lacks (lost from it: a ledger restored from an older backup), as the stand-in replayer places
    /// a journalled approval: the same id, forced when funds would refuse it. Asks the ledger first,
    /// under the authorisation's lock, so a hold already there is left alone. Null when the journal
    /// has no such key; the decision as found (not held) is the caller's to refuse.
    /// </summary>
    /// <exception cref="DecisionUnresolvedException">The ledger did not answer.</exception>
    internal async Task<HoldRepost?> RepostHoldAsync(string key, CancellationToken cancellationToken)
    {
        var stripe = Stripe(key);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            if (journal.Find(key) is not { } decision)
            {
                return null;
            }
            if (decision.State != DecisionState.Held)
            {
                return new HoldRepost(decision, AlreadyHeld: false, Status: null);
            }
            var deadline = DateTime.UtcNow + (options.DeadlineBudget * 10);
            try
            {
                if (await FindTransferAsync(ToProto(decision.HoldId), deadline, cancellationToken) is not null)
                {
                    return new HoldRepost(decision, AlreadyHeld: true, TransferStatus.Ok);
                }
                var result = await PlaceApprovedHoldAsync(decision, deadline, cancellationToken);
                if (result.Status != TransferStatus.Ok)
                {
                    LogLedgerRefusedHold(decision.Key, result.Status.ToString());
                }
                return new HoldRepost(decision, AlreadyHeld: false, result.Status);
            }
            catch (Exception error) when (IsLedgerUnavailable(error, cancellationToken))
            {
                throw new DecisionUnresolvedException();
            }
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>The void of a decision's hold, with its own derived id (a repeat voids nothing twice).</summary>
    private static Transfer VoidOf(CardDecision decision, UInt128 id) => new()
    {
        Id = ToProto(id),
        PendingId = ToProto(decision.HoldId),
        Currency = decision.Currency,
        Code = CardPaymentCode,
        Flags = (uint)TransferFlags.VoidPending,
    };

    private Task<TransferResult> SubmitHoldAsync(CardDecision decision, DateTime deadline, CancellationToken cancellationToken, bool force = false) =>
        SubmitAsync(new Transfer
        {
            Id = ToProto(decision.HoldId),
            DebitAccountId = ToProto(decision.DebitAccountId),
            CreditAccountId = ToProto(options.SettlementAccount),
            Amount = decision.Amount,
            Currency = decision.Currency,
            Code = CardPaymentCode,
            Flags = (uint)(force ? TransferFlags.Pending | TransferFlags.Force : TransferFlags.Pending),
            TimeoutSeconds = (uint)options.HoldTimeoutSeconds,
            Metadata = { new Dictionary<string, string>(decision.Metadata) },
        }, deadline, cancellationToken);

    /// <summary>
    /// Warms the authorisation's hold path on this processor's own clients before the link takes
    /// traffic: the card lookup by PAN (a number no card has: not found), the balance read, and the
    /// hold's <c>SubmitTransfers</c> with a pending transfer the ledger refuses without writing
    /// anything (debit and credit both the settlement account: <c>ACCOUNTS_MUST_BE_DIFFERENT</c>).
    /// A cold process otherwise opens its connections, compiles the code and grows its thread pool
    /// inside the first authorisations' budget, and answers them in stand-in. No money moves, no
    /// journal entry is written. Returns how many holds the ledger refused as it should (each one a
    /// full trip down the path).
    /// </summary>
    internal async Task<int> WarmUpAsync(int calls, int concurrency, CancellationToken cancellationToken)
    {
        var refused = 0;
        var settlement = ToProto(options.SettlementAccount);
        await Parallel.ForEachAsync(Enumerable.Range(0, calls), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken },
            async (index, token) =>
            {
                var deadline = DateTime.UtcNow + (options.DeadlineBudget * 10);
                try
                {
                    try
                    {
                        await accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = WarmUpPan }, deadline: deadline, cancellationToken: token);
                    }
                    catch (RpcException error) when (error.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument)
                    {
                        // Expected: no card has this number.
                    }
                    await ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { settlement } }, deadline: deadline, cancellationToken: token);
                    var result = await SubmitAsync(new Transfer
                    {
                        Id = ToProto(CardKeys.Hold(string.Create(CultureInfo.InvariantCulture, $"warm-up/{index}"))),
                        DebitAccountId = settlement,
                        CreditAccountId = settlement,
                        Amount = 1,
                        Currency = LedgerCurrency,
                        Code = CardPaymentCode,
                        Flags = (uint)TransferFlags.Pending,
                        TimeoutSeconds = 1,
                    }, deadline, token);
                    if (result.Status == TransferStatus.Ok)
                    {
                        // A transfer from an account to itself moves nothing, but the ledger must never take one.
                        throw new System.Diagnostics.UnreachableException("The ledger accepted a hold from the settlement account to itself.");
                    }
                    if (result.Status == TransferStatus.AccountsMustBeDifferent)
                    {
                        Interlocked.Increment(ref refused);
                    }
                }
                catch (RpcException) when (!token.IsCancellationRequested)
                {
                    // Warming only: the traffic that follows reports its own failures.
                }
            });
        return refused;
    }

    /// <summary>All zeros: Luhn-valid, so it passes any format check, and no scheme issues it: the lookup finds nothing.</summary>
    private const string WarmUpPan = "0000000000000000";

    /// <summary>The ledger's transfer with this id, or null.</summary>
    internal async Task<Transfer?> FindTransferAsync(Uint128 id, DateTime deadline, CancellationToken cancellationToken)
    {
        var found = await ledger.GetTransfersAsync(new GetTransfersRequest { Ids = { id } }, deadline: deadline, cancellationToken: cancellationToken);
        return found.Transfers.Count == 1 ? found.Transfers[0] : null;
    }

    internal async Task<TransferResult> SubmitAsync(Transfer transfer, DateTime deadline, CancellationToken cancellationToken)
    {
        var response = await ledger.SubmitTransfersAsync(new SubmitTransfersRequest { IdNamespace = IdNamespace.Card, Transfers = { transfer } },
            deadline: deadline, cancellationToken: cancellationToken);
        return response.Results.Single();
    }

    private static bool IsLedgerUnavailable(Exception error, CancellationToken outer) => !outer.IsCancellationRequested && error switch
    {
        RpcException rpc => rpc.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled or StatusCode.ResourceExhausted or StatusCode.Internal or StatusCode.Unknown,
        OperationCanceledException => true,
        _ => false,
    };

    private static Dictionary<string, string> Metadata(Iso8583Message request, string key)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["rrn"] = request.GetRetrievalReferenceNumber(),
            ["stan"] = request.GetSystemsTraceAuditNumber().ToString("D6", CultureInfo.InvariantCulture),
            ["authorisation"] = key,
        };
        if (request.TryGetString(Iso8583Fields.CardAcceptorNameLocation, out var nameLocation))
        {
            // Field 43: name in positions 1-22 (sometimes the whole name), city in 24-36.
            var name = (nameLocation.Length > 23 ? nameLocation[..22] : nameLocation).Trim();
            metadata["merchant_name"] = name.Length > 0 ? name : "Card payment";
            metadata["description"] = metadata["merchant_name"];
            if (nameLocation.Length > 36)
            {
                var city = nameLocation[23..36].Trim();
                if (city.Length > 0)
                {
                    metadata["merchant_city"] = city;
                }
            }
        }
        if (request.TryGetString(Iso8583Fields.MerchantCategoryCode, out var mcc))
        {
            metadata["mcc"] = mcc;
            metadata["category"] = MerchantCategories.Category(mcc);
        }
        if (request.TryGetString(Iso8583Fields.CardAcceptorId, out var merchantId))
        {
            metadata["merchant_id"] = merchantId.Trim();
        }
        return metadata;
    }

    private static string PanCacheKey(string pan) => Convert.ToHexString(SHA256.HashData(Encoding.ASCII.GetBytes(pan)));

    internal SemaphoreSlim Stripe(string key) => _locks[(int)((uint)StringComparer.Ordinal.GetHashCode(key) % LockStripes)];

    internal static Uint128 ToProto(UInt128 value) => new() { High = (ulong)(value >> 64), Low = (ulong)value };

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Card message {Mti} refused as a format error: {Reason}")]
    private partial void LogFormatError(string mti, string reason);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "The ledger refused a card transfer for authorisation {Key}: {Status}")]
    private partial void LogLedgerRefusedHold(string key, string status);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Stand-in approval for authorisation {Key}, {Amount} minor units: the ledger did not answer within budget")]
    private partial void LogStandIn(string key, long amount);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Error, Message = "Authorisation {Key} declined (96) without a hold: its intent could not be written to the card journal")]
    private partial void LogIntentNotJournalled(Exception error, string key);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Warning, Message = "Approval {Key} is in the ledger but could not be recorded as held in the journal; it stays recorded as requested and is resolved from the ledger when read")]
    private partial void LogHeldNotRecorded(Exception error, string key);

    private sealed class CardLookupUnavailableException : Exception;
}

/// <summary>A journal record could not be resolved because the ledger did not answer: try again later.</summary>
internal sealed class DecisionUnresolvedException : Exception;

/// <summary>What <see cref="CardProcessor.RepostHoldAsync"/> found and did: the decision, whether the ledger already held it, the ledger's answer (null: not held, nothing sent).</summary>
internal sealed record HoldRepost(CardDecision Decision, bool AlreadyHeld, TransferStatus? Status);
