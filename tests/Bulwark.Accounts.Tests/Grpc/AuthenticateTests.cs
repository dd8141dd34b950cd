using System.Security.Cryptography;
using System.Text;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Storage;
using Bulwark.Platform.Security;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Accounts.Tests.Grpc;

public sealed class AuthenticateTests(AccountsHostFixture fixture) : IClassFixture<AccountsHostFixture>
{
    private const string Password = "correct horse battery";

    private AccountsTestHost Host => fixture.Host;

    private async Task<(string Email, string CustomerId)> CustomerWithPasswordAsync(AccountsTestHost host)
    {
        var email = AccountsTestHost.NewEmail();
        var created = await host.Accounts.CreateCustomerAsync(new CreateCustomerRequest { Name = "Login Test", Email = email, Password = Password });
        return (email, created.Customer.CustomerId);
    }

    [Fact]
    public async Task Authenticate_RightPassword_AuthenticatedWithCustomerId()
    {
        var (email, customerId) = await CustomerWithPasswordAsync(Host);

        var response = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = Password });

        Assert.True(response.Authenticated);
        Assert.Equal(customerId, response.CustomerId);
    }

    [Fact]
    public async Task Authenticate_EmailInOtherCase_Authenticated()
    {
        var (email, customerId) = await CustomerWithPasswordAsync(Host);

        var response = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email.ToUpperInvariant(), Password = Password });

        Assert.True(response.Authenticated);
        Assert.Equal(customerId, response.CustomerId);
    }

    [Fact]
    public async Task Authenticate_WrongPassword_NotAuthenticatedAndNoCustomerId()
    {
        var (email, _) = await CustomerWithPasswordAsync(Host);

        var response = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = Password + "!" });

        Assert.False(response.Authenticated);
        Assert.Empty(response.CustomerId);
    }

    [Fact]
    public async Task Authenticate_UnknownEmail_SameAnswerAsWrongPassword()
    {
        var (email, _) = await CustomerWithPasswordAsync(Host);

        var unknown = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = AccountsTestHost.NewEmail(), Password = Password });
        var wrong = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = "not the password" });

        Assert.Equal(wrong, unknown);
        Assert.False(unknown.Authenticated);
    }

    [Fact]
    public async Task Authenticate_CustomerWithoutPassword_NotAuthenticated()
    {
        var created = await Host.NewCustomerAsync();
        var email = (await Host.Accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = created.Customer.CustomerId })).Email;

        var response = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = "whatever-it-is" });

        Assert.False(response.Authenticated);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-an-email")]
    public async Task Authenticate_BadEmail_InvalidArgumentNamingEmail(string email)
    {
        await RpcAssert.InvalidAsync("email", () => Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = Password }).ResponseAsync);
    }

    [Fact]
    public async Task Authenticate_EmptyPassword_InvalidArgumentNamingPassword()
    {
        await RpcAssert.InvalidAsync("password", () => Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = AccountsTestHost.NewEmail(), Password = "" }).ResponseAsync);
    }

    [Fact]
    public async Task Authenticate_PasswordTooLong_InvalidArgumentNamingPassword()
    {
        var request = new AuthenticateRequest { Email = AccountsTestHost.NewEmail(), Password = new string('p', AccountsLimits.PasswordLengthMax + 1) };

        await RpcAssert.InvalidAsync("password", () => Host.Accounts.AuthenticateAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task CreateCustomer_WithPassword_StoresSaltedPbkdf2HashNeverThePassword()
    {
        var (_, customerId) = await CustomerWithPasswordAsync(Host);
        var (_, otherId) = await CustomerWithPasswordAsync(Host);

        var first = ReadCredential(Host.DatabasePath, customerId);
        var second = ReadCredential(Host.DatabasePath, otherId);

        Assert.Equal("pbkdf2-sha512", first.Algorithm);
        Assert.Equal(AccountsTestHost.TestPasswordIterations, first.Iterations);
        Assert.Equal(16, first.Salt.Length);
        Assert.Equal(64, first.Hash.Length);
        Assert.NotEqual(first.Salt, second.Salt);
        Assert.NotEqual(first.Hash, second.Hash);
        Assert.False(DatabaseFiles.Contain(Host.DatabasePath, Encoding.UTF8.GetBytes(Password)));
    }

    [Fact]
    public async Task Authenticate_IterationsRaisedSinceHashing_RehashesWithNewCountAndStillLogsIn()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            string email, customerId;
            await using (var before = await AccountsTestHost.StartAsync(directory, passwordIterations: 1_000))
            {
                (email, customerId) = await CustomerWithPasswordAsync(before);
            }
            await using var after = await AccountsTestHost.StartAsync(directory, passwordIterations: 2_000);

            var first = await after.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = Password });
            var upgraded = ReadCredential(after.DatabasePath, customerId);
            var second = await after.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = Password });

            Assert.True(first.Authenticated);
            Assert.Equal(2_000, upgraded.Iterations);
            Assert.True(second.Authenticated);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task SyntheticCustomer_HashedWithItsOwnFewIterations_NeverUpgradedAtLogin_AndAShortSecretRefused()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            await using var host = await AccountsTestHost.StartAsync(directory, passwordIterations: 2_000);
            var secret = RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", AccountsLimits.SyntheticPasswordLengthMin);
            EnsureSyntheticCustomerRequest Request(string password) => new() { Key = AccountsTestHost.NewKey(), LedgerAccountId = "42756c7761726bc0" + Guid.NewGuid().ToString("N")[..16], Password = password };
            var synthetic = await host.Accounts.EnsureSyntheticCustomerAsync(Request(secret));
            Assert.Equal(AccountsLimits.SyntheticPasswordIterations, ReadCredential(host.DatabasePath, synthetic.Customer.CustomerId).Iterations);

            var login = await host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = synthetic.Customer.Email, Password = secret });

            Assert.True(login.Authenticated);
            Assert.Equal(AccountsLimits.SyntheticPasswordIterations, ReadCredential(host.DatabasePath, synthetic.Customer.CustomerId).Iterations);
            // Only a long random secret is hashed cheaply: a human-length password is refused, naming the field.
            await RpcAssert.InvalidAsync("password", () => host.Accounts.EnsureSyntheticCustomerAsync(Request(secret[..^1])).ResponseAsync);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Authenticate_LegacySha256Hash_LogsInAndUpgradesToSha512()
    {
        var (email, customerId) = await CustomerWithPasswordAsync(Host);
        var store = Host.Services.GetRequiredService<IAccountsStore>();
        var salt = RandomNumberGenerator.GetBytes(16);
        var legacyHash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(Password), salt, 1_000, HashAlgorithmName.SHA256, 32);
        await store.SetCredentialAsync(new CredentialRecord(customerId, "pbkdf2-sha256", 1_000, salt, legacyHash, 1), CancellationToken.None);

        var wrong = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = "not the password" });
        var stillLegacy = ReadCredential(Host.DatabasePath, customerId);
        var first = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = Password });
        var upgraded = ReadCredential(Host.DatabasePath, customerId);
        var second = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = Password });

        Assert.False(wrong.Authenticated);
        Assert.Equal("pbkdf2-sha256", stillLegacy.Algorithm);
        Assert.True(first.Authenticated);
        Assert.Equal("pbkdf2-sha512", upgraded.Algorithm);
        Assert.Equal(64, upgraded.Hash.Length);
        Assert.NotEqual(salt, upgraded.Salt);
        Assert.True(second.Authenticated);
    }

    [Fact]
    public void Options_DefaultIterations_AreTheOwaspRecommendationForSha512()
    {
        Assert.Equal(210_000, new AccountsOptions().PasswordIterations);
    }

    [Fact]
    public async Task Authenticate_HashingQueueFull_ResourceExhaustedAtOnce()
    {
        await using var host = await AccountsTestHost.StartAsync(passwordHashingConcurrency: 1, passwordHashingQueueMax: 1);
        var (email, _) = await CustomerWithPasswordAsync(host);
        var queue = host.Services.GetRequiredService<PasswordHashingQueue>();
        using var release = new ManualResetEventSlim();
        using var running = new ManualResetEventSlim();
        // One hash holds the only hashing thread, a second waits in the only queue place.
        Assert.True(queue.TryRun(() => { running.Set(); return release.Wait(TimeSpan.FromSeconds(30)); }, CancellationToken.None, out var busy));
        Assert.True(running.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(queue.TryRun(() => true, CancellationToken.None, out var waiting));
        try
        {
            var error = await Assert.ThrowsAsync<RpcException>(() =>
                host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = Password }).ResponseAsync);

            Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        }
        finally
        {
            release.Set();
        }
        Assert.True(await busy);
        Assert.True(await waiting);
        Assert.True((await host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = email, Password = Password })).Authenticated);
    }

    private static (string Algorithm, int Iterations, byte[] Salt, byte[] Hash) ReadCredential(string databasePath, string customerId)
    {
        using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT algorithm, iterations, salt, hash FROM credentials WHERE customer_id = $id";
        command.Parameters.AddWithValue("$id", customerId);
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        return (reader.GetString(0), reader.GetInt32(1), (byte[])reader.GetValue(2), (byte[])reader.GetValue(3));
    }
}
