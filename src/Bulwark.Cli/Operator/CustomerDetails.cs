using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Accounts.Protos;
using Bulwark.Cli.Demo;
using Bulwark.Ledger.Protos;
using LedgerAccount = Bulwark.Ledger.Protos.Account;

namespace Bulwark.Cli.Operator;

/// <summary>
/// Everything <c>bulwark customers show</c> prints about one customer: their current accounts and
/// pots (accounts service) with balances (ledger), and their cards — the last four digits only:
/// the accounts service never holds more of a card number.
/// </summary>
internal sealed record CustomerDetails(Customer Customer, ListAccountsResponse Accounts, IReadOnlyList<Card> Cards, IReadOnlyDictionary<string, LedgerAccount> Balances)
{
    public static async Task<CustomerDetails> LoadAsync(BankConnection bank, Customer customer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bank);
        ArgumentNullException.ThrowIfNull(customer);
        var accounts = await bank.Accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = customer.CustomerId }, cancellationToken: cancellationToken);
        var cards = await bank.Accounts.ListCardsAsync(new ListCardsRequest { CustomerId = customer.CustomerId }, cancellationToken: cancellationToken);
        var ledgerIds = accounts.Accounts.Select(a => a.LedgerAccountId).Concat(accounts.Pots.Select(p => p.LedgerAccountId)).ToList();
        var balances = new Dictionary<string, LedgerAccount>(StringComparer.Ordinal);
        if (ledgerIds.Count > 0)
        {
            var request = new GetAccountsRequest();
            request.Ids.AddRange(ledgerIds.Select(LedgerIds.ProtoFromHex));
            var reply = await bank.Ledger.GetAccountsAsync(request, cancellationToken: cancellationToken);
            foreach (var account in reply.Accounts)
            {
                balances[account.Id.FromProto().ToHex()] = account;
            }
        }
        return new CustomerDetails(customer, accounts, cards.Cards, balances);
    }

    /// <summary>Settled (credits posted − debits posted) and available (settled − holds), as the app shows them.</summary>
    private static (long Settled, long Available, long Held)? Balance(LedgerAccount? account) => account is null
        ? null
        : (checked(account.CreditsPosted - account.DebitsPosted), checked(account.CreditsPosted - account.DebitsPosted - account.DebitsPending), account.DebitsPending);

    private LedgerAccount? Ledger(string ledgerAccountId) => Balances.GetValueOrDefault(ledgerAccountId);

    public static JsonObject ToJson(CurrentAccount account, LedgerAccount? ledger)
    {
        ArgumentNullException.ThrowIfNull(account);
        var json = new JsonObject
        {
            ["accountId"] = account.AccountId,
            ["name"] = account.Name,
            ["sortCode"] = account.SortCode,
            ["accountNumber"] = account.AccountNumber,
            ["currency"] = account.Currency,
            ["overdraftLimit"] = account.OverdraftLimit,
            ["ledgerAccountId"] = account.LedgerAccountId,
        };
        AddBalance(json, ledger);
        return json;
    }

    private static void AddBalance(JsonObject json, LedgerAccount? ledger)
    {
        if (Balance(ledger) is { } balance)
        {
            json["balance"] = new JsonObject { ["settled"] = balance.Settled, ["available"] = balance.Available, ["held"] = balance.Held };
        }
        else if (ledger is null && json.ContainsKey("ledgerAccountId"))
        {
            json["balance"] = null;
        }
    }

    public JsonObject ToJson()
    {
        var json = CustomerViews.ToJson(Customer);
        json["accounts"] = new JsonArray([.. Accounts.Accounts.Select(a => ToJson(a, Ledger(a.LedgerAccountId)))]);
        json["pots"] = new JsonArray([.. Accounts.Pots.Select(pot =>
        {
            var item = new JsonObject
            {
                ["potId"] = pot.PotId,
                ["accountId"] = pot.AccountId,
                ["name"] = pot.Name,
                ["currency"] = pot.Currency,
                ["goalAmount"] = pot.GoalAmount,
                ["ledgerAccountId"] = pot.LedgerAccountId,
            };
            AddBalance(item, Ledger(pot.LedgerAccountId));
            return (JsonNode)item;
        })]);
        json["cards"] = new JsonArray([.. Cards.Select(card => (JsonNode)new JsonObject
        {
            ["cardId"] = card.CardId,
            ["accountId"] = card.AccountId,
            ["lastFour"] = card.LastFour,
            ["expiry"] = Expiry(card),
            ["frozen"] = card.Frozen,
        })]);
        return json;
    }

    public async Task WriteAsync(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        await output.WriteLineAsync($"customer  {Customer.CustomerId}");
        await output.WriteLineAsync($"name      {Customer.Name}");
        await output.WriteLineAsync($"email     {Customer.Email}");
        await output.WriteLineAsync($"created   {CustomerViews.Time(Customer.CreatedAtUnixMs)} UTC");
        await output.WriteLineAsync();
        await CustomerViews.WriteTableAsync(output, ["ACCOUNT", "SORT CODE", "NUMBER", "CURRENCY", "BALANCE", "AVAILABLE", "HELD", "OVERDRAFT"],
            Accounts.Accounts.Select(a => (string[])[a.Name, CustomerViews.SortCode(a.SortCode), a.AccountNumber, a.Currency,
                .. Amounts(Ledger(a.LedgerAccountId)), CustomerViews.Money(a.OverdraftLimit)]));
        await output.WriteLineAsync();
        await CustomerViews.WriteTableAsync(output, ["POT", "CURRENCY", "BALANCE", "AVAILABLE", "HELD", "GOAL"],
            Accounts.Pots.Select(p => (string[])[p.Name, p.Currency, .. Amounts(Ledger(p.LedgerAccountId)), p.GoalAmount > 0 ? CustomerViews.Money(p.GoalAmount) : "-"]));
        await output.WriteLineAsync();
        await CustomerViews.WriteTableAsync(output, ["CARD", "NUMBER", "EXPIRES", "STATE"],
            Cards.Select(c => new[] { c.CardId, "**** " + c.LastFour, Expiry(c), c.Frozen ? "frozen" : "active" }));
        if (Balances.Count < Accounts.Accounts.Count + Accounts.Pots.Count)
        {
            await output.WriteLineAsync("? : the ledger does not know this account's ledger account (the accounts service and the ledger disagree: see docs/runbooks/customers.md).");
        }
    }

    private static string[] Amounts(LedgerAccount? ledger) => Balance(ledger) is { } balance
        ? [CustomerViews.Money(balance.Settled), CustomerViews.Money(balance.Available), CustomerViews.Money(balance.Held)]
        : ["?", "?", "?"];

    private static string Expiry(Card card) => string.Create(CultureInfo.InvariantCulture, $"{card.ExpiryMonth:D2}/{card.ExpiryYear}");
}
