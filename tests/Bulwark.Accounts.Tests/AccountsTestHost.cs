using System.Globalization;
using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Protos;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Bulwark.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Accounts.Tests;

/// <summary>
/// The accounts service and a fake ledger in one Bulwark host on loopback, reached over real
/// gRPC through <c>bulwark:///accounts</c> — the same path other services use.
/// </summary>
public sealed class AccountsTestHost : IAsyncDisposable
{
    /// <summary>Low enough to keep tests fast; production uses 210,000.</summary>
    public const int TestPasswordIterations = 1_000;

    public static readonly DateTimeOffset Start = new(2030, 6, 15, 12, 0, 0, TimeSpan.Zero);

    private readonly WebApplication _app;
    private readonly bool _ownsDirectory;
    private readonly Dictionary<string, UInt128> _bankAccounts = new(StringComparer.Ordinal);

    private AccountsTestHost(WebApplication app, string directory, bool ownsDirectory, FakeTimeProvider time)
    {
        _app = app;
        _ownsDirectory = ownsDirectory;
        Directory = directory;
        Time = time;
        var channels = app.Services.GetRequiredService<IServiceChannelFactory>();
        Accounts = new AccountsClient(channels.GetChannel("accounts"));
        Ledger = new LedgerClient(channels.GetChannel("ledger"));
        FakeLedger = app.Services.GetRequiredService<FakeLedger>();
    }

    public string Directory { get; }

    public string DatabasePath => Path.Combine(Directory, "accounts.db");

    public string KeyPath => Path.Combine(Directory, "keys", "tokenisation.key");

    /// <summary>The transfer id key's default place: beside the tokenisation key.</summary>
    public string TransferIdKeyPath => Path.Combine(Directory, "keys", "transfer-id.key");

    public FakeTimeProvider Time { get; }

    public AccountsClient Accounts { get; }

    public LedgerClient Ledger { get; }

    public FakeLedger FakeLedger { get; }

    public IServiceProvider Services => _app.Services;

    public static string NewDirectory() => Path.Combine(Path.GetTempPath(), "bulwark-accounts-tests", Guid.NewGuid().ToString("N"));

    /// <summary>
    /// Starts a host; with a <paramref name="directory"/> it is kept on dispose (for restarts).
    /// With a <paramref name="ledger"/> (a previous host's), the ledger's contents survive the
    /// restart; <paramref name="start"/> is the new host's clock (default <see cref="Start"/>).
    /// </summary>
    public static async Task<AccountsTestHost> StartAsync(string? directory = null, int passwordIterations = TestPasswordIterations,
        FakeLedger? ledger = null, DateTimeOffset? start = null,
        int passwordHashingConcurrency = 1, int passwordHashingQueueMax = AccountsLimits.PasswordHashingQueueMaxDefault)
    {
        var ownsDirectory = directory is null;
        directory ??= NewDirectory();
        var time = new FakeTimeProvider(start ?? Start);
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Warning }, new InMemoryServiceRegistry());
        builder.Services.AddSingleton<TimeProvider>(time);
        if (ledger is null)
        {
            builder.Services.AddSingleton(provider => new FakeLedger(provider.GetRequiredService<TimeProvider>()) { RequireNamespaces = true });
        }
        else
        {
            builder.Services.AddSingleton(ledger);
        }
        builder.Services.AddHostedBulwarkService("ledger");
        builder.Services.AddSingleton<IApprovalVerifier, FakeApprovals>();
        builder.Services.AddAccounts(new AccountsOptions
        {
            DatabasePath = Path.Combine(directory, "accounts.db"),
            TokenisationKeyPath = Path.Combine(directory, "keys", "tokenisation.key"),
            PasswordIterations = passwordIterations,
            PasswordHashingConcurrency = passwordHashingConcurrency,
            PasswordHashingQueueMax = passwordHashingQueueMax,
        });
        var app = builder.Build();
        app.UsePlatform();
        app.MapGrpcService<FakeLedger>();
        app.MapAccounts();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        return new AccountsTestHost(app, directory, ownsDirectory, time);
    }

    public static string NewEmail() => $"c{Guid.NewGuid():N}@example.com";

    public static string NewKey() => Guid.NewGuid().ToString("N");

    public async Task<CreateCustomerResponse> NewCustomerAsync(string password = "", string currency = "GBP", long overdraftLimit = 0, string? name = null) =>
        await Accounts.CreateCustomerAsync(new CreateCustomerRequest
        {
            Name = name ?? "Test Customer",
            Email = NewEmail(),
            Password = password,
            Currency = currency,
            OverdraftLimit = overdraftLimit,
        });

    /// <summary>Pays <paramref name="amount"/> into a ledger account from the bank's funding account.</summary>
    public async Task FundAsync(string ledgerAccountId, long amount, string currency = "GBP")
    {
        if (!_bankAccounts.TryGetValue(currency, out var bank))
        {
            bank = UInt128.Parse(NewKey(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            await Ledger.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { new Account { Id = FakeLedger.Id(bank), Currency = currency, Code = 100 } } });
            _bankAccounts[currency] = bank;
        }
        var response = await Ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers =
            {
                new Transfer
                {
                    Id = FakeLedger.Id(Uint128.InNamespace(IdNamespace.Bank, FakeLedger.Id(FakeLedger.Id(NewKey())))),
                    DebitAccountId = FakeLedger.Id(bank),
                    CreditAccountId = FakeLedger.Id(ledgerAccountId),
                    Amount = amount,
                    Currency = currency,
                    Code = 1,
                },
            },
        });
        Assert.Equal(TransferStatus.Ok, response.Results.Single().Status);
    }

    /// <summary>Posted balance: credits minus debits.</summary>
    public long Balance(string ledgerAccountId)
    {
        var account = FakeLedger.FindAccount(ledgerAccountId) ?? throw new InvalidOperationException($"No ledger account {ledgerAccountId}.");
        return account.CreditsPosted - account.DebitsPosted;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (_ownsDirectory && System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

/// <summary>One host shared by the tests of a class; each test makes its own customers.</summary>
public sealed class AccountsHostFixture : IAsyncLifetime
{
    private AccountsTestHost? _host;

    public AccountsTestHost Host => _host ?? throw new InvalidOperationException("The host has not started.");

    public async Task InitializeAsync() => _host = await AccountsTestHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}
