using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Bulwark.Accounts.Protos;
using Bulwark.Coherence.Checking;
using Grpc.Core;
using Microsoft.Data.Sqlite;

namespace Bulwark.Coherence.Tests.Checking;

/// <summary>app_read against the real edge, accounts service, feed and cells: the synthetic customers read as customers do, and are nobody's business.</summary>
public sealed class AppReadCheckTests
{
    private static readonly string[] ThreeCells = ["a", "b", "c"];

    [Fact]
    public async Task RunRound_AppApi_EachCellsWriteReadByItsPartitionsSyntheticCustomer_WhoIsInNoCustomerList()
    {
        await using var bank = await CoherenceBank.StartAsync(ThreeCells);
        var customer = await bank.Accounts.CreateCustomerAsync(new CreateCustomerRequest { Name = "Real Customer", Email = "real@example.com" });

        var round = await bank.RoundAsync();

        var reads = round.Where(outcome => outcome.Check == CoherenceCheck.AppRead).ToList();
        Assert.Equal(ThreeCells, reads.Select(outcome => outcome.Cell).Order(StringComparer.Ordinal));
        Assert.All(reads, outcome => Assert.True(outcome.Passed, $"{outcome.Cell}: {outcome.Result} {outcome.Detail}"));
        // Each read is of the write just acknowledged in that cell, in a partition the cell owns.
        Assert.All(reads, read => Assert.Equal(
            round.Single(outcome => outcome.Cell == read.Cell && outcome.Check == CoherenceCheck.LedgerWrite).TransferId, read.TransferId));
        Assert.All(reads, read => Assert.Equal(read.Cell, bank.Map.CellOf(read.Partition)));
        // The operator's list holds the one real customer; the three synthetic ones are real records nobody lists or finds.
        var listed = await bank.Accounts.ListCustomersAsync(new ListCustomersRequest { Limit = 500 });
        Assert.Equal(customer.Customer.CustomerId, Assert.Single(listed.Customers).CustomerId);
        foreach (var read in reads)
        {
            var email = $"coherence-{read.AccountId.ToString("x32", CultureInfo.InvariantCulture)}@synthetic.bulwark.invalid";
            var error = await Assert.ThrowsAsync<RpcException>(() => bank.Accounts.FindCustomerByEmailAsync(new FindCustomerByEmailRequest { Email = email }).ResponseAsync);
            Assert.Equal(StatusCode.NotFound, error.StatusCode);
        }
        Assert.Equal(3, SyntheticCustomersIn(bank.AccountsPath));
    }

    [Fact]
    public async Task SyntheticCustomer_PasswordIsTheCheckersAlone_AGuessAtTheAppApiIsRefused()
    {
        await using var bank = await CoherenceBank.StartAsync(["a"]);
        var read = (await bank.RoundAsync()).Single(outcome => outcome.Check == CoherenceCheck.AppRead);
        Assert.True(read.Passed, read.Detail);
        using var http = new HttpClient { BaseAddress = bank.AppApi };
        var email = $"coherence-{read.AccountId.ToString("x32", CultureInfo.InvariantCulture)}@synthetic.bulwark.invalid";

        using var login = await http.PostAsJsonAsync(new Uri("api/login", UriKind.Relative), new { email, password = "coherence-check" });

        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
        // Only a hash is stored beside the data, as for every customer.
        Assert.Equal(1, CredentialsOfSyntheticCustomersIn(bank.AccountsPath));
    }

    [Fact]
    public async Task RunRound_AccountsServiceLostTheSyntheticAccount_AppReadMissing_CountedAndLoggedWithCellPartitionAndIds()
    {
        await using var bank = await CoherenceBank.StartAsync(["a"]);
        var first = (await bank.RoundAsync()).Single(outcome => outcome.Check == CoherenceCheck.AppRead);
        Assert.True(first.Passed, first.Detail);

        // The accounts store comes back without the row that puts the probe in the customer's app (a restore from an old backup, in small).
        DeleteCurrentAccount(bank.AccountsPath, first.AccountId);
        CheckOutcome? again = null;
        for (var round = 0; round < CoherenceBank.Partitions && again is null; round++)
        {
            again = (await bank.RoundAsync()).SingleOrDefault(outcome => outcome.Check == CoherenceCheck.AppRead && outcome.Partition == first.Partition);
        }

        Assert.NotNull(again);
        Assert.Equal(CoherenceResult.Missing, again.Result);
        Assert.Contains("does not list", again.Detail, StringComparison.Ordinal);
        Assert.Equal(1, bank.Checks[$"{CoherenceCheck.AppRead}/{CoherenceResult.Missing}/a"]);
        Assert.Equal(1, bank.Status.Missing);
        var line = Assert.Single(bank.Logs, log => log.EventId.Id == 9101);
        Assert.Contains($"Coherence check {CoherenceCheck.AppRead} in cell a", line.Message, StringComparison.Ordinal);
        Assert.Contains($"partition {first.Partition}", line.Message, StringComparison.Ordinal);
        Assert.Contains(again.TransferId.ToString("x32", CultureInfo.InvariantCulture), line.Message, StringComparison.Ordinal);
        Assert.Contains(first.AccountId.ToString("x32", CultureInfo.InvariantCulture), line.Message, StringComparison.Ordinal);
        // The ledger and the feed still show the write: only the app API's path lost it.
        var otherReads = bank.Status.Last().Where(outcome => outcome.Check is CoherenceCheck.LedgerRead or CoherenceCheck.FeedRead);
        Assert.All(otherReads, outcome => Assert.True(outcome.Passed, $"{outcome.Check}: {outcome.Detail}"));
    }

    private static long SyntheticCustomersIn(string accountsPath) => Scalar(accountsPath, "SELECT COUNT(*) FROM customers WHERE synthetic = 1");

    private static long CredentialsOfSyntheticCustomersIn(string accountsPath) =>
        Scalar(accountsPath, "SELECT COUNT(*) FROM credentials JOIN customers USING (customer_id) WHERE synthetic = 1 AND length(hash) > 0 AND algorithm <> ''");

    private static long Scalar(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    private static void DeleteCurrentAccount(string path, UInt128 ledgerAccountId)
    {
        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM current_accounts WHERE ledger_account_id = $id";
        command.Parameters.AddWithValue("$id", ledgerAccountId.ToString("x32", CultureInfo.InvariantCulture));
        Assert.Equal(1, command.ExecuteNonQuery());
    }
}
