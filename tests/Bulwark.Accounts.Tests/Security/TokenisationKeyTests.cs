using Bulwark.Accounts.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Tests.Security;

public sealed class TokenisationKeyTests
{
    [Fact]
    public async Task Start_NoKeyFile_Creates32ByteKeyReadableOnlyByOwner()
    {
        await using var host = await AccountsTestHost.StartAsync();

        Assert.Equal(32, new FileInfo(host.KeyPath).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(host.KeyPath));
        }
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(host.KeyPath)!, "*.tmp"));
    }

    [Fact]
    public async Task Restart_KeyFileKept_CardStillFoundByPanAndKeyUnchanged()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            var pan = TestPans.New();
            byte[] keyBefore;
            Card issued;
            await using (var first = await AccountsTestHost.StartAsync(directory))
            {
                var customer = await first.NewCustomerAsync();
                issued = await first.Accounts.IssueCardAsync(new IssueCardRequest
                {
                    CustomerId = customer.Customer.CustomerId,
                    AccountId = customer.Account.AccountId,
                    Pan = pan,
                    ExpiryMonth = 1,
                    ExpiryYear = AccountsTestHost.Start.Year + 2,
                });
                keyBefore = await File.ReadAllBytesAsync(first.KeyPath);
            }

            await using var second = await AccountsTestHost.StartAsync(directory);
            var found = await second.Accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = pan });

            Assert.Equal(issued.CardId, found.CardId);
            Assert.Equal(keyBefore, await File.ReadAllBytesAsync(second.KeyPath));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Restart_KeyFileLost_RefusesToStartThenStartsWithTheRestoredKey()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            var pan = TestPans.New();
            string keyPath;
            byte[] rightKey;
            await using (var first = await AccountsTestHost.StartAsync(directory))
            {
                await IssueAsync(first, pan);
                keyPath = first.KeyPath;
                rightKey = await File.ReadAllBytesAsync(keyPath);
            }
            File.Delete(keyPath);

            // Without the check a new key would be created and every card would become unknown.
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => AccountsTestHost.StartAsync(directory));
            Assert.Contains(keyPath, error.Message, StringComparison.Ordinal);
            Assert.Contains("was missing", error.Message, StringComparison.Ordinal);

            await File.WriteAllBytesAsync(keyPath, rightKey);
            await using var restored = await AccountsTestHost.StartAsync(directory);
            var found = await restored.Accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = pan });
            Assert.EndsWith(found.LastFour, pan, StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Restart_AnotherKeyFile_RefusesToStartNamingTheKey()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            string keyPath;
            await using (var first = await AccountsTestHost.StartAsync(directory))
            {
                await IssueAsync(first, TestPans.New());
                keyPath = first.KeyPath;
            }
            await File.WriteAllBytesAsync(keyPath, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => AccountsTestHost.StartAsync(directory));

            Assert.Contains($"The tokenisation key at {keyPath} is not the key", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("was missing", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task IssueAsync(AccountsTestHost host, string pan)
    {
        var customer = await host.NewCustomerAsync();
        await host.Accounts.IssueCardAsync(new IssueCardRequest
        {
            CustomerId = customer.Customer.CustomerId,
            AccountId = customer.Account.AccountId,
            Pan = pan,
            ExpiryMonth = 1,
            ExpiryYear = AccountsTestHost.Start.Year + 2,
        });
    }

    [Fact]
    public async Task Start_KeyFileOfWrongLength_FailsToStartNamingTheFile()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            var keyPath = Path.Combine(directory, "keys", "tokenisation.key");
            Directory.CreateDirectory(Path.GetDirectoryName(keyPath)!);
            await File.WriteAllBytesAsync(keyPath, new byte[31]);

            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => AccountsTestHost.StartAsync(directory));

            Assert.Contains(keyPath, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
