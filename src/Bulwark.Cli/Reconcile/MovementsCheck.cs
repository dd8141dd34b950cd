using System.Globalization;
using Bulwark.Accounts.Protos;
using Bulwark.Cli.Demo;
using Bulwark.Ledger.Protos;

namespace Bulwark.Cli.Reconcile;

/// <summary>
/// (a) The accounts service's records of payments, pot moves and approved bank credits (goodwill
/// credits and refunds, paid from the bank's own account) vs the ledger transfers they name.
/// Every record's transfer must exist with the record's amount and currency, the code of its kind,
/// a debit account of the record's customer and a credit account of the right kind (the same
/// customer's other account for a pot move, a current account for a payment). Every ledger
/// transfer with a payment or pot-move code debiting a customer's account must be named by a
/// record: the accounts service writes the record after the ledger answers, so a transfer without
/// one is a movement whose record was lost (a crash, or a customer who never retried). Neither
/// side is repaired by a tool: a record cannot be rebuilt without the customer's request, and a
/// transfer is never posted on a record's word; both go to a person.
/// </summary>
/// <remarks>
/// The ledger is read first and the records after it: a movement committed while reconcile runs
/// then has its record by the time records are listed, so a live bank shows no false difference.
/// </remarks>
internal sealed class MovementsCheck : IReconcileCheck
{
    /// <summary>The accounts service's ledger codes (Bulwark.Accounts LedgerCodes): pot move and payment.</summary>
    private const uint PotMoveCode = 2;
    private const uint PaymentCode = 3;

    /// <summary>Credits two staff members approved (CreditFromBank): from the bank's goodwill and refunds account.</summary>
    private const uint GoodwillCreditCode = 5;
    private const uint RefundCode = 6;

    public string Name => "movements";

    public string Title => "accounts' payment and pot-move records vs ledger transfers";

    public async Task<ReconcileCheckResult> RunAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        var accounts = new CustomerLedgerAccounts();
        var ledgerMovements = await ReadLedgerAsync(context, accounts, cancellationToken);
        var findings = new ReconcileFindings();
        long compared = 0;
        var unexplained = new List<RecordedMovement>();
        string cursor = "";
        do
        {
            var page = await context.Bank.Accounts.ListMovementsAsync(new ListMovementsRequest { Limit = ReconcileLimits.PageSize, Cursor = cursor }, cancellationToken: cancellationToken);
            foreach (var record in page.Movements)
            {
                compared++;
                if (ledgerMovements.Remove(record.TransferId, out var transfer))
                {
                    Compare(record, transfer, accounts, findings);
                }
                else
                {
                    unexplained.Add(record);
                }
            }
            await LookUpAsync(context, unexplained, accounts, findings, flush: page.NextCursor.Length == 0, cancellationToken);
            cursor = page.NextCursor;
        }
        while (cursor.Length > 0);
        foreach (var (id, transfer) in ledgerMovements)
        {
            findings.Add(FindingKind.NeedsPerson, id, string.Create(CultureInfo.InvariantCulture,
                $"ledger {Kind(transfer.Code)} of {transfer.Amount} {transfer.Currency} from {Hex(transfer.DebitAccountId)} to {Hex(transfer.CreditAccountId)} has no accounts record (a crash between the ledger and the record, and no retry since)"));
        }
        return findings.Result(this, compared, string.Create(CultureInfo.InvariantCulture, $"{accounts.CustomerCount} customers"));
    }

    /// <summary>Every customer's ledger accounts, and the payment and pot-move transfers that debit them, keyed by transfer id.</summary>
    private static async Task<Dictionary<string, Transfer>> ReadLedgerAsync(ReconcileContext context, CustomerLedgerAccounts accounts, CancellationToken cancellationToken)
    {
        var movements = new Dictionary<string, Transfer>(StringComparer.Ordinal);
        var cursor = "";
        do
        {
            var page = await context.Bank.Accounts.ListCustomersAsync(new ListCustomersRequest { Limit = ReconcileLimits.PageSize, Cursor = cursor }, cancellationToken: cancellationToken);
            foreach (var customer in page.Customers)
            {
                var owned = await context.Bank.Accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = customer.CustomerId }, cancellationToken: cancellationToken);
                accounts.Add(customer.CustomerId, owned);
                foreach (var ledgerAccount in owned.Accounts.Select(account => account.LedgerAccountId).Concat(owned.Pots.Select(pot => pot.LedgerAccountId)))
                {
                    await ReadAccountAsync(context, ledgerAccount, movements, cancellationToken);
                }
            }
            cursor = page.NextCursor;
        }
        while (cursor.Length > 0);
        return movements;
    }

    private static async Task ReadAccountAsync(ReconcileContext context, string ledgerAccount, Dictionary<string, Transfer> movements, CancellationToken cancellationToken)
    {
        var id = Parse(ledgerAccount).ToProto();
        var cursor = "";
        do
        {
            var page = await context.Bank.Ledger.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = id, Cursor = cursor, Limit = ReconcileLimits.PageSize }, cancellationToken: cancellationToken);
            foreach (var transfer in page.Transfers)
            {
                // Only the debit side names the movement once: the whole row, or the debit leg of one between partitions.
                if (transfer.Code is PotMoveCode or PaymentCode && transfer.Leg is TransferLeg.Whole or TransferLeg.Debit && transfer.DebitAccountId.Equals(id))
                {
                    movements[Hex(transfer.Id)] = transfer;
                }
            }
            cursor = page.NextCursor;
        }
        while (cursor.Length > 0);
    }

    /// <summary>Records whose transfer the scan did not meet: asked of the ledger by id, in bounded batches.</summary>
    private static async Task LookUpAsync(ReconcileContext context, List<RecordedMovement> records, CustomerLedgerAccounts accounts, ReconcileFindings findings, bool flush, CancellationToken cancellationToken)
    {
        if (records.Count == 0 || (!flush && records.Count < ReconcileLimits.TransfersPerLookupMax))
        {
            return;
        }
        var found = await LedgerLookup.FindAsync(context.Bank.Ledger, records.Select(record => record.TransferId), cancellationToken);
        foreach (var record in records)
        {
            if (found.TryGetValue(record.TransferId, out var transfer))
            {
                Compare(record, transfer, accounts, findings);
            }
            else
            {
                findings.Add(FindingKind.NeedsPerson, record.TransferId, string.Create(CultureInfo.InvariantCulture,
                    $"{record.Kind} of {record.Amount} {record.Currency} recorded for customer {record.CustomerId} has no ledger transfer (the customer was told it was made)"));
            }
        }
        records.Clear();
    }

    /// <summary>One record against its transfer; internal for the tests of each kind's rules.</summary>
    internal static void Compare(RecordedMovement record, Transfer transfer, CustomerLedgerAccounts accounts, ReconcileFindings findings)
    {
        var problems = new List<string>();
        if (transfer.Amount != record.Amount || transfer.Currency != record.Currency)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"record says {record.Amount} {record.Currency}, ledger {transfer.Amount} {transfer.Currency}"));
        }
        var bankCredit = record.Kind is "goodwill_credit" or "refund";
        var expectedCode = record.Kind switch
        {
            "payment" => PaymentCode,
            "goodwill_credit" => GoodwillCreditCode,
            "refund" => RefundCode,
            _ => PotMoveCode,
        };
        if (transfer.Code != expectedCode)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"record is a {record.Kind}, ledger code is {transfer.Code}"));
        }
        var debit = Hex(transfer.DebitAccountId);
        var credit = Hex(transfer.CreditAccountId);
        // A bank credit is paid by the bank's own account, which no customer owns, into the customer's current account.
        if (bankCredit ? accounts.OwnerOf(debit) is not null : accounts.OwnerOf(debit) != record.CustomerId)
        {
            problems.Add(bankCredit ? $"debit account {debit} belongs to a customer, not the bank" : $"debit account {debit} is not customer {record.CustomerId}'s");
        }
        var creditFits = record.Kind switch
        {
            "payment" => accounts.IsCurrentAccount(credit),
            "goodwill_credit" or "refund" => accounts.IsCurrentAccount(credit) && accounts.OwnerOf(credit) == record.CustomerId,
            _ => accounts.OwnerOf(credit) == record.CustomerId,
        };
        if (!creditFits)
        {
            problems.Add($"credit account {credit} is not the {(record.Kind == "payment" ? "current account of a customer" : "customer's own")}");
        }
        if (problems.Count > 0)
        {
            findings.Add(FindingKind.NeedsPerson, record.TransferId, string.Join("; ", problems));
        }
    }

    private static string Kind(uint code) => code == PaymentCode ? "payment" : "pot move";

    private static UInt128 Parse(string hex) => LedgerLookup.Parse(hex);

    private static string Hex(Uint128 id) => LedgerLookup.Hex(id);

    /// <summary>Which customer owns each ledger account, and which are current accounts.</summary>
    internal sealed class CustomerLedgerAccounts
    {
        private readonly Dictionary<string, string> _owners = new(StringComparer.Ordinal);
        private readonly HashSet<string> _current = new(StringComparer.Ordinal);

        public int CustomerCount { get; private set; }

        public void Add(string customerId, ListAccountsResponse owned)
        {
            CustomerCount++;
            foreach (var account in owned.Accounts)
            {
                _owners[account.LedgerAccountId] = customerId;
                _current.Add(account.LedgerAccountId);
            }
            foreach (var pot in owned.Pots)
            {
                _owners[pot.LedgerAccountId] = customerId;
            }
        }

        public string? OwnerOf(string ledgerAccount) => _owners.GetValueOrDefault(ledgerAccount);

        public bool IsCurrentAccount(string ledgerAccount) => _current.Contains(ledgerAccount);
    }
}
