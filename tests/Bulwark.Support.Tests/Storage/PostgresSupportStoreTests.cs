using Bulwark.Ledger.Tests.Support;
using Bulwark.Storage.Sqlite;
using Bulwark.Support.Storage;
using Npgsql;

namespace Bulwark.Support.Tests.Storage;

/// <summary>The support store contract on PostgreSQL (a database of its own on the assembly's server).</summary>
public sealed class PostgresSupportStoreTests : SupportStoreContractTests, IDisposable
{
    private readonly string _database = PostgresTestServer.NewDatabase("support");
    private readonly PostgresSupportStore _store;

    public PostgresSupportStoreTests() => _store = new PostgresSupportStore(_database);

    protected override ISupportStore Store => _store;

    protected override string DropUpdateTrigger => "DROP TRIGGER audit_entries_append_only ON support.audit_entries";

    protected override string DropDeleteTrigger => "DROP TRIGGER audit_entries_append_only ON support.audit_entries";

    protected override async Task ExecuteRawAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_database) { SearchPath = PostgresSupportStore.Schema }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task AuditTable_Truncate_RefusedByTheDatabase()
    {
        await _store.AppendAuditAsync(new AuditDraft(1, "operator", "customer.viewed", "c1", "why", "{}", ""), CancellationToken.None);

        var error = await Assert.ThrowsAsync<PostgresException>(() => ExecuteRawAsync("TRUNCATE audit_entries"));

        Assert.Contains("append-only", error.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reopen_KeepsData_AndANewerSchemaIsRefused()
    {
        var entry = await _store.AppendAuditAsync(new AuditDraft(1, "operator", "customer.viewed", "c1", "why", "{}", ""), CancellationToken.None);
        using (var reopened = new PostgresSupportStore(_database))
        {
            Assert.Equal(entry, (await reopened.ReadAuditAsync(0, 10, CancellationToken.None)).Single());
        }

        await ExecuteRawAsync("UPDATE schema_version SET version = 42");

        Assert.Throws<SchemaTooNewException>(() => new PostgresSupportStore(_database));
    }

    public void Dispose() => _store.Dispose();
}
