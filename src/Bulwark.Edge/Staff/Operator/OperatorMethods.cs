using System.Collections.Frozen;

namespace Bulwark.Edge.Staff.Operator;

/// <summary>One gRPC method the operator gateway forwards: the service that owns it and the roles that may call it.</summary>
internal sealed record OperatorMethod(string Path, string Service, IReadOnlyList<string> Roles);

/// <summary>
/// Which staff roles may call which internal gRPC method through the operator gateway — deny by
/// default: a method not listed here is refused, whoever calls it (docs/concepts/staff-edge.md,
/// "The operator gateway"). Customer reads (balances and transfers included): support or operations.
/// Creating a customer and paying its opening balance (and no other ledger transfer:
/// <see cref="OperatorOpeningBalance"/>), configuration, cards' journals and placement: operations. The staff directory: admin. The audit log: operations or
/// admin read it; nobody appends through the gateway (the gateway itself does). Methods the CLI never
/// calls and that belong to the services' own traffic (a customer's login, token revocation, a
/// credit from the bank, which maker-checker guards) are left out on purpose.
/// </summary>
internal static class OperatorMethods
{
    private static readonly string[] Readers = [StaffPolicies.Support, StaffPolicies.Operations];
    private static readonly string[] Operations = [StaffPolicies.Operations];
    private static readonly string[] Admin = [StaffPolicies.Admin];
    private static readonly string[] AuditReaders = [StaffPolicies.Operations, StaffPolicies.Admin];

    private static readonly FrozenDictionary<string, OperatorMethod> Table = Build();

    /// <summary>The method at a gRPC request path (<c>/package.Service/Method</c>), or null when the gateway does not forward it.</summary>
    public static OperatorMethod? Find(string path) => Table.GetValueOrDefault(path);

    /// <summary>Every method the gateway forwards (for the docs and the tests).</summary>
    public static IEnumerable<OperatorMethod> All => Table.Values;

    private static FrozenDictionary<string, OperatorMethod> Build()
    {
        var methods = new List<OperatorMethod>();
        void Add(string service, string contract, string[] roles, params string[] names) =>
            methods.AddRange(names.Select(name => new OperatorMethod($"/{contract}/{name}", service, roles)));

        Add("accounts", "bulwark.accounts.v1.Accounts", Readers,
            "GetCustomer", "FindCustomerByEmail", "ListCustomers", "SearchCustomers", "ListAccounts", "FindAccountByNumber",
            "ListCards", "FindCardByPan", "ListMovements");
        // What the CLI does and nothing more: a customer's own money moves (payments, pots), cards,
        // freezes and blocks are the app's and the console's, each with its own checks and audit.
        Add("accounts", "bulwark.accounts.v1.Accounts", Operations, "CreateCustomer");
        // Balances and a customer's transfers are customer data (customers show reads balances here): support or operations.
        Add(LedgerService, "bulwark.ledger.v1.Ledger", Readers, "GetAccounts", "GetTransfers", "ListAccountTransfers");
        // SubmitTransfers only as an opening balance (OperatorOpeningBalance checks every transfer in the body).
        Add(LedgerService, "bulwark.ledger.v1.Ledger", Operations, "CreateAccounts", "SubmitTransfers");
        Add(LedgerService, "bulwark.ledger.v1.LedgerCellAdmin", Operations,
            "GetCellStatus", "BeginImport", "GetImportProgress", "ExportPartition", "ImportPartition", "PausePartition", "ResumePartition",
            "PrepareDigest", "DigestPartition", "VerifyImport", "ReleasePartition", "OwnPartition", "DropPartitionCopy", "AbortImport");
        Add("cards", "bulwark.cards.v1.Cards", Operations, "ListDecisions", "ListPresentments", "RepostHold");
        Add("config", "bulwark.config.v1.Config", Operations, "Get", "List", "History", "Watch", "Put", "Delete", "Compact");
        Add("support", "bulwark.support.v1.StaffDirectory", Admin, "CreateStaff", "ListStaff", "GetStaff", "DisableStaff", "ResetTotp");
        Add("support", "bulwark.support.v1.Audit", AuditReaders, "List", "Verify");
        return methods.ToFrozenDictionary(method => method.Path, StringComparer.Ordinal);
    }

    /// <summary>The one ledger write that moves money through the gateway: checked transfer by transfer (<see cref="OperatorOpeningBalance"/>).</summary>
    public const string SubmitTransfersPath = "/bulwark.ledger.v1.Ledger/SubmitTransfers";

    /// <summary>The ledger: a call that names its cell (<c>bulwark-cell</c>) goes to that cell's service, <c>ledger-CELL</c>.</summary>
    public const string LedgerService = "ledger";

    /// <summary>The header the ledger router (and the cell mover) names a call's cell in.</summary>
    public const string CellHeader = "bulwark-cell";

    /// <summary>The service instance a call goes to: the method's owner, or for a ledger call that names its cell, the cell's.</summary>
    public static string TargetService(OperatorMethod method, string? cell)
    {
        ArgumentNullException.ThrowIfNull(method);
        return method.Service == LedgerService && !string.IsNullOrEmpty(cell) ? $"{LedgerService}-{cell}" : method.Service;
    }
}
