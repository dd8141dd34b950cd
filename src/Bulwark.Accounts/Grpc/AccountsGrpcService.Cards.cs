using System.Globalization;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Storage;
using Bulwark.Accounts.Validation;
using Grpc.Core;

namespace Bulwark.Accounts.Grpc;

internal sealed partial class AccountsGrpcService
{
    public override async Task<Card> IssueCard(IssueCardRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var accountId = RequestFields.Id(request.AccountId, "account_id");
        var pan = RequestFields.Pan(request.Pan, "pan");
        ValidateExpiry(request.ExpiryMonth, request.ExpiryYear);
        var cancellationToken = context.CancellationToken;
        var account = await OwnedAccountAsync(customerId, accountId, cancellationToken);
        // From here on only the token and the last four digits exist; the PAN is never stored or logged.
        var card = new CardRecord(NewId(), customerId, accountId, cardTokeniser.Tokenise(pan), pan[^4..],
            request.ExpiryMonth, request.ExpiryYear, Frozen: false, NowUnixMs());
        switch (await store.CreateCardAsync(card, AccountsLimits.CardsPerCustomerMax, cancellationToken))
        {
            case CreateLimitedOutcome.Created:
                return ToProto(card, account);
            case CreateLimitedOutcome.AlreadyExists:
                throw AccountsErrors.AlreadyExists("A card with this number has already been issued.");
            default:
                throw AccountsErrors.FailedPrecondition($"A customer may have at most {AccountsLimits.CardsPerCustomerMax} cards.");
        }
    }

    /// <summary>A card is valid to the end of its expiry month, so the current month is still fine.</summary>
    private void ValidateExpiry(int month, int year)
    {
        if (month is < 1 or > 12)
        {
            throw AccountsErrors.Invalid("expiry_month", "must be 1 to 12");
        }
        var now = time.GetUtcNow();
        if (year < now.Year)
        {
            throw AccountsErrors.Invalid("expiry_year", string.Create(CultureInfo.InvariantCulture, $"must not be in the past (it is {now.Year} now)"));
        }
        if (year == now.Year && month < now.Month)
        {
            throw AccountsErrors.Invalid("expiry_month", string.Create(CultureInfo.InvariantCulture, $"must not be in the past: the card expired at the end of {month:D2}/{year}"));
        }
        if (year > now.Year + AccountsLimits.ExpiryYearsAheadMax)
        {
            throw AccountsErrors.Invalid("expiry_year", string.Create(CultureInfo.InvariantCulture, $"must be at most {AccountsLimits.ExpiryYearsAheadMax} years ahead"));
        }
    }

    public override async Task<ListCardsResponse> ListCards(ListCardsRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var cancellationToken = context.CancellationToken;
        await CustomerAsync(customerId, cancellationToken);
        var accounts = (await store.ListCurrentAccountsAsync(customerId, cancellationToken)).ToDictionary(account => account.AccountId, StringComparer.Ordinal);
        var response = new ListCardsResponse();
        foreach (var card in await store.ListCardsAsync(customerId, cancellationToken))
        {
            if (accounts.TryGetValue(card.AccountId, out var account))
            {
                response.Cards.Add(ToProto(card, account));
            }
            else
            {
                LogCardWithoutAccount(card.CardId, card.AccountId);
            }
        }
        return response;
    }

    public override async Task<Card> SetCardFrozen(SetCardFrozenRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var cardId = RequestFields.Id(request.CardId, "card_id");
        var cancellationToken = context.CancellationToken;
        var card = await store.GetCardAsync(cardId, cancellationToken)
            ?? throw AccountsErrors.NotFound($"There is no card {cardId}.");
        if (card.CustomerId != customerId)
        {
            throw AccountsErrors.PermissionDenied($"Card {cardId} belongs to another customer.");
        }
        if (!request.ByStaff && !request.Frozen && card.FrozenByStaff)
        {
            // The bank froze it (fraud, a lost card reported by phone): the customer's own switch does not undo that.
            throw AccountsErrors.FailedPrecondition("card frozen by the bank: only the bank can unfreeze it; contact us through Help.");
        }
        if (!await store.SetCardFrozenAsync(cardId, request.Frozen, request.ByStaff, cancellationToken))
        {
            throw AccountsErrors.NotFound($"There is no card {cardId}.");
        }
        var changed = !request.ByStaff ? card with { Frozen = request.Frozen }
            : request.Frozen ? card with { FrozenByStaff = true }
            : card with { FrozenByStaff = false, Frozen = false };
        return ToProto(changed, await CardAccountAsync(card, cancellationToken));
    }

    public override async Task<Card> FindCardByPan(FindCardByPanRequest request, ServerCallContext context)
    {
        var pan = RequestFields.Pan(request.Pan, "pan");
        var cancellationToken = context.CancellationToken;
        var card = await store.FindCardByTokenAsync(cardTokeniser.Tokenise(pan), cancellationToken)
            ?? throw AccountsErrors.NotFound("There is no card with this number.");
        return ToProto(card, await CardAccountAsync(card, cancellationToken));
    }

    private async Task<CurrentAccountRecord> CardAccountAsync(CardRecord card, CancellationToken cancellationToken)
    {
        var account = await store.GetCurrentAccountAsync(card.AccountId, cancellationToken);
        if (account is null)
        {
            LogCardWithoutAccount(card.CardId, card.AccountId);
            throw AccountsErrors.Internal($"Card {card.CardId} belongs to a current account that does not exist.");
        }
        return account;
    }
}
