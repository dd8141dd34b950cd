using Bulwark.Storage.Sqlite;
using Bulwark.Support.Storage;
using Microsoft.Data.Sqlite;

namespace Bulwark.Support.Tests.Storage;

public sealed class SqliteApprovalStoreTests : ApprovalStoreContractTests, IDisposable
{
    private readonly string _directory = SupportTestHost.NewDirectory();
    private readonly SqliteSupportStore _store;

    public SqliteApprovalStoreTests() => _store = new SqliteSupportStore(new SqliteDatabase(Path.Combine(_directory, "support.db")));

    protected override IApprovalStore Store => _store;

    protected override ISupportStore Audit => _store;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
