using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Accounts.Protos;
using Bulwark.Ledger.Protos;
using Bulwark.Testing;
using Grpc.Core;
using Microsoft.Data.Sqlite;

namespace Bulwark.Accounts.Tests.Grpc;

/// <summary>
/// Issue 11, item 1: a customer's idempotency key never becomes a raw ledger id. The accounts
/// service derives the id (customer namespace, time, key id, keyed hash), records it before use,
/// and finds movements made before the change by their raw key.
/// </summary>
public sealed class TransferIdTests
{
    private static readonly UInt128 CardNamespaceTop = (UInt128)(byte)IdNamespace.Card << Uint128.NamespaceShift;

    private static UInt128 Parse(string hex) => UInt128.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    private static string Hex(UInt128 value) => value.ToString("x32", CultureInfo.InvariantCulture);

    private static async Task<(CreateCustomerResponse Customer, Pot Pot)> CustomerWithPotAsync(AccountsTestHost host, long funds = 10_000)
    {
        var customer = await host.NewCustomerAsync();
        var pot = await host.Accounts.CreatePotAsync(new CreatePotRequest
        {
            CustomerId = customer.Customer.CustomerId,
            AccountId = customer.Account.AccountId,
            Name = "Holiday",
        });
        await host.FundAsync(customer.Account.LedgerAccountId, funds);
        return (customer, pot);
    }

    private static MoveMoneyRequest Move(CreateCustomerResponse customer, Pot pot, long amount, string? key = null) => new()
    {
        CustomerId = customer.Customer.CustomerId,
        PotId = pot.PotId,
        Direction = MoveDirection.IntoPot,
        Amount = amount,
        Currency = "GBP",
        IdempotencyKey = key ?? AccountsTestHost.NewKey(),
    };

    [Fact]
    public async Task MoveMoney_KeyEqualToACardHoldId_TransferGetsAnIdOfTheCustomerNamespaceAndTheCardIdStaysFree()
    {
        await using var host = await AccountsTestHost.StartAsync();
        var (customer, pot) = await CustomerWithPotAsync(host);
        // The attack: a key equal to an id the card processor will derive (guessable inputs).
        var cardHoldId = CardNamespaceTop | 0x1234_5678_9ABC_DEF0UL;

        var movement = await host.Accounts.MoveMoneyAsync(Move(customer, pot, 1_000, Hex(cardHoldId)));

        var transferId = Parse(movement.TransferId);
        Assert.NotEqual(cardHoldId, transferId);
        Assert.Equal(IdNamespace.Customer, Uint128.NamespaceOf(transferId));
        Assert.Null(host.FakeLedger.FindTransfer(Hex(cardHoldId)));
        Assert.NotNull(host.FakeLedger.FindTransfer(movement.TransferId));
    }

    [Fact]
    public async Task PayAccount_TwoCustomersUseTheSameKey_TwoSeparatePayments()
    {
        await using var host = await AccountsTestHost.StartAsync();
        var first = await host.NewCustomerAsync();
        var second = await host.NewCustomerAsync();
        var payee = await host.NewCustomerAsync();
        await host.FundAsync(first.Account.LedgerAccountId, 1_000);
        await host.FundAsync(second.Account.LedgerAccountId, 1_000);
        var key = AccountsTestHost.NewKey();
        PayAccountRequest Pay(CreateCustomerResponse payer) => new()
        {
            CustomerId = payer.Customer.CustomerId,
            FromAccountId = payer.Account.AccountId,
            ToSortCode = payee.Account.SortCode,
            ToAccountNumber = payee.Account.AccountNumber,
            Amount = 300,
            Currency = "GBP",
            IdempotencyKey = key,
        };

        var one = await host.Accounts.PayAccountAsync(Pay(first));
        var two = await host.Accounts.PayAccountAsync(Pay(second));

        Assert.False(two.Duplicate);
        Assert.NotEqual(one.TransferId, two.TransferId);
        Assert.Equal(600, host.Balance(payee.Account.LedgerAccountId));
    }

    [Fact]
    public async Task MoveMoney_LaterMovements_IdsIncreaseWithTimeWithinTheNamespace()
    {
        await using var host = await AccountsTestHost.StartAsync();
        var (customer, pot) = await CustomerWithPotAsync(host);
        var earlier = await host.Accounts.MoveMoneyAsync(Move(customer, pot, 10));
        host.Time.Advance(TimeSpan.FromMilliseconds(5));

        var later = await host.Accounts.MoveMoneyAsync(Move(customer, pot, 10));

        Assert.True(Parse(later.TransferId) > Parse(earlier.TransferId));
        Assert.Equal(1, (int)(byte)(Parse(later.TransferId) >> 64));
    }

    [Fact]
    public async Task TransferIdKey_FirstStart_CreatedBesideTheTokenisationKeyWithKeyIdOne()
    {
        await using var host = await AccountsTestHost.StartAsync();

        var text = await File.ReadAllTextAsync(host.TransferIdKeyPath);

        Assert.Matches("^1 [0-9a-f]{64}\n$", text);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(host.TransferIdKeyPath));
        }
    }

    [Fact]
    public async Task TransferIdKey_Malformed_StartRefused()
    {
        var directory = AccountsTestHost.NewDirectory();
        Directory.CreateDirectory(Path.Combine(directory, "keys"));
        await File.WriteAllTextAsync(Path.Combine(directory, "keys", "transfer-id.key"), "0 abc\n");
        if (!OperatingSystem.IsWindows())
        {
            // Owner-only, so that the start is refused for the content, not the mode.
            File.SetUnixFileMode(Path.Combine(directory, "keys", "transfer-id.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        try
        {
            var error = await Assert.ThrowsAnyAsync<Exception>(() => AccountsTestHost.StartAsync(directory));
            Assert.Contains("transfer id key", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task MoveMoney_RetryAfterKeyRotationAndCrash_SameTransferAndMovedOnce()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            var host = await AccountsTestHost.StartAsync(directory);
            var (customer, pot) = await CustomerWithPotAsync(host);
            var request = Move(customer, pot, 2_000);
            var first = await host.Accounts.MoveMoneyAsync(request);
            // A crash before the movement was recorded, then a key rotation and a restart.
            PotTests.DeleteMovementRow(host.DatabasePath, first.TransferId);
            var ledger = host.FakeLedger;
            await host.DisposeAsync();
            await File.WriteAllTextAsync(host.TransferIdKeyPath, "2 " + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n");
            await using var restarted = await AccountsTestHost.StartAsync(directory, ledger: ledger, start: AccountsTestHost.Start.AddHours(1));

            var retry = await restarted.Accounts.MoveMoneyAsync(request);
            var next = await restarted.Accounts.MoveMoneyAsync(Move(customer, pot, 1));

            Assert.True(retry.Duplicate);
            Assert.Equal(first.TransferId, retry.TransferId);
            Assert.Equal(10_000 - 2_000 - 1, restarted.Balance(customer.Account.LedgerAccountId));
            Assert.Equal(1, (int)(byte)(Parse(first.TransferId) >> 64));
            Assert.Equal(2, (int)(byte)(Parse(next.TransferId) >> 64));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task MoveMoney_RetryOfAMovementRecordedBeforeTheUpgrade_FoundByItsRawKeyAndMovedOnce()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            var (host, customer, pot, request) = await BankFromBeforeTheUpgradeAsync(directory, recorded: true);
            await using var upgraded = host;

            var retry = await upgraded.Accounts.MoveMoneyAsync(request);

            Assert.True(retry.Duplicate);
            Assert.Equal(request.IdempotencyKey, retry.TransferId);
            Assert.Equal(7_000, upgraded.Balance(customer.Account.LedgerAccountId));
            Assert.Equal(3_000, upgraded.Balance(pot.LedgerAccountId));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task MoveMoney_RetryOfATransferCommittedBeforeTheUpgradeButNeverRecorded_AdoptedNotMovedTwice()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            var (host, customer, pot, request) = await BankFromBeforeTheUpgradeAsync(directory, recorded: false);
            await using var upgraded = host;

            var retry = await upgraded.Accounts.MoveMoneyAsync(request);
            var again = await upgraded.Accounts.MoveMoneyAsync(request);

            Assert.True(retry.Duplicate);
            Assert.Equal(request.IdempotencyKey, retry.TransferId);
            Assert.Equal(request.IdempotencyKey, again.TransferId);
            Assert.Equal(7_000, upgraded.Balance(customer.Account.LedgerAccountId));
            Assert.Equal(3_000, upgraded.Balance(pot.LedgerAccountId));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// A bank as the code before issue 11 left it: a pot move of 3,000 whose ledger transfer id
    /// is the customer's raw key, recorded (or, after a crash, not) under that key, and another
    /// customer's old movement; then the upgraded accounts service starts on it an hour later.
    /// </summary>
    private static async Task<(AccountsTestHost Host, CreateCustomerResponse Customer, Pot Pot, MoveMoneyRequest Request)> BankFromBeforeTheUpgradeAsync(string directory, bool recorded)
    {
        var old = await AccountsTestHost.StartAsync(directory);
        var (customer, pot) = await CustomerWithPotAsync(old);
        var request = Move(customer, pot, 3_000);
        var ledger = old.FakeLedger;
        ledger.RequireNamespaces = false;
        var committed = await old.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            Transfers =
            {
                new Transfer
                {
                    Id = FakeLedger.Id(request.IdempotencyKey),
                    DebitAccountId = FakeLedger.Id(customer.Account.LedgerAccountId),
                    CreditAccountId = FakeLedger.Id(pot.LedgerAccountId),
                    Amount = 3_000,
                    Currency = "GBP",
                    Code = 2,
                    Metadata = { ["description"] = pot.Name, ["category"] = "pot" },
                },
            },
        });
        Assert.Equal(TransferStatus.Ok, committed.Results.Single().Status);
        ledger.RequireNamespaces = true;
        await old.DisposeAsync();

        using (var connection = new SqliteConnection($"Data Source={Path.Combine(directory, "accounts.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // The old code wrote neither the settings of derived ids nor any key mapping.
            command.CommandText = """
                DELETE FROM settings WHERE name IN ('raw_key_transfer_ids_until_unix_ms', 'customer_transfer_ids_since_unix_ms');
                DELETE FROM movement_keys;
                INSERT INTO money_movements VALUES ($other, $otherCustomer, 'payment', 'x', 1, 'GBP', $at);
                """;
            command.Parameters.AddWithValue("$other", AccountsTestHost.NewKey());
            command.Parameters.AddWithValue("$otherCustomer", Guid.NewGuid().ToString("D"));
            command.Parameters.AddWithValue("$at", AccountsTestHost.Start.ToUnixTimeMilliseconds());
            command.ExecuteNonQuery();
            if (recorded)
            {
                using var insert = connection.CreateCommand();
                insert.CommandText = "INSERT INTO money_movements VALUES ($key, $customer, 'pot_move', $fingerprint, 3000, 'GBP', $at)";
                insert.Parameters.AddWithValue("$key", request.IdempotencyKey);
                insert.Parameters.AddWithValue("$customer", customer.Customer.CustomerId);
                insert.Parameters.AddWithValue("$fingerprint", OldFingerprint("pot_move", customer.Customer.CustomerId, pot.PotId, "IntoPot", "3000", "GBP"));
                insert.Parameters.AddWithValue("$at", AccountsTestHost.Start.ToUnixTimeMilliseconds());
                insert.ExecuteNonQuery();
            }
        }
        var upgraded = await AccountsTestHost.StartAsync(directory, ledger: ledger, start: AccountsTestHost.Start.AddHours(1));
        return (upgraded, customer, pot, request);
    }

    /// <summary>The request fingerprint as the accounts service has always written it: SHA-256 of the fields joined by newlines.</summary>
    private static string OldFingerprint(params string[] fields) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', fields))));
}
