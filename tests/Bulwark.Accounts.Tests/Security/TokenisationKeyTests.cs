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
    public async Task Restart_DifferentKey_CardNoLongerFoundByPan()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            var pan = TestPans.New();
            string keyPath;
            await using (var first = await AccountsTestHost.StartAsync(directory))
            {
                var customer = await first.NewCustomerAsync();
                await first.Accounts.IssueCardAsync(new IssueCardRequest
                {
                    CustomerId = customer.Customer.CustomerId,
                    AccountId = customer.Account.AccountId,
                    Pan = pan,
                    ExpiryMonth = 1,
                    ExpiryYear = AccountsTestHost.Start.Year + 2,
                });
                keyPath = first.KeyPath;
            }
            File.Delete(keyPath);

            await using var second = await AccountsTestHost.StartAsync(directory);

            await RpcAssert.FailsAsync(StatusCode.NotFound, () => second.Accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = pan }).ResponseAsync);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
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
