using Bulwark.Ledger.Tests.Support;
using Bulwark.Support.Storage;

namespace Bulwark.Support.Tests.Storage;

/// <summary>The approval store contract on PostgreSQL (a database of its own on the assembly's server).</summary>
public sealed class PostgresApprovalStoreTests : ApprovalStoreContractTests, IDisposable
{
    private readonly PostgresSupportStore _store = new(PostgresTestServer.NewDatabase("approvals"));

    protected override IApprovalStore Store => _store;

    protected override ISupportStore Audit => _store;

    public void Dispose() => _store.Dispose();
}
