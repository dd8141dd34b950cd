using System.Globalization;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Bulwark.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Feed.Tests;

/// <summary>
/// The feed service and a fake ledger in one Bulwark host on loopback. Tests write transfers to
/// the fake through the ledger contract, exactly as the other services would, then read the feed.
/// </summary>
public sealed class FeedTestHost : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2030, 6, 15, 12, 0, 0, TimeSpan.Zero);

    private readonly WebApplication _app;
    private UInt128 _bank;

    private FeedTestHost(WebApplication app, FakeTimeProvider time)
    {
        _app = app;
        Time = time;
        var channels = app.Services.GetRequiredService<IServiceChannelFactory>();
        Feed = new FeedClient(channels.GetChannel("feed"));
        Ledger = new LedgerClient(channels.GetChannel("ledger"));
        FakeLedger = app.Services.GetRequiredService<FakeLedger>();
    }

    public FakeTimeProvider Time { get; }

    public FeedClient Feed { get; }

    public LedgerClient Ledger { get; }

    public FakeLedger FakeLedger { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<FeedTestHost> StartAsync(DateTimeOffset? start = null)
    {
        var time = new FakeTimeProvider(start ?? Start);
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Warning }, new InMemoryServiceRegistry());
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddSingleton<FakeLedger>();
        builder.Services.AddHostedBulwarkService("ledger");
        builder.Services.AddFeed(new FeedOptions());
        var app = builder.Build();
        app.UsePlatform();
        app.MapGrpcService<FakeLedger>();
        app.MapFeed();
        await app.StartAsync();
        var host = new FeedTestHost(app, time);
        host._bank = UInt128.Parse(await host.NewAccountAsync(code: 100, flags: 0), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        return host;
    }

    public static string NewId() => Guid.NewGuid().ToString("N");

    public string BankAccount => _bank.ToString("x32", CultureInfo.InvariantCulture);

    public async Task<string> NewAccountAsync(uint code = 1, uint flags = (uint)AccountFlags.DebitsMustNotExceedCredits, string currency = "GBP")
    {
        var id = NewId();
        var response = await Ledger.CreateAccountsAsync(new CreateAccountsRequest
        {
            Accounts = { new Account { Id = FakeLedger.Id(id), Currency = currency, Code = code, Flags = flags } },
        });
        Assert.Equal(CreateAccountStatus.Ok, response.Results.Single().Status);
        return id;
    }

    /// <summary>A customer account holding <paramref name="funds"/>, paid in as income.</summary>
    public async Task<string> FundedAccountAsync(long funds)
    {
        var account = await NewAccountAsync();
        await SubmitAsync(Payment(BankAccount, account, funds, code: 5, ("description", "Salary"), ("category", "income")));
        return account;
    }

    public static Transfer Payment(string debit, string credit, long amount, uint code, params (string Key, string Value)[] metadata)
    {
        var transfer = new Transfer
        {
            Id = FakeLedger.Id(NewId()),
            DebitAccountId = FakeLedger.Id(debit),
            CreditAccountId = FakeLedger.Id(credit),
            Amount = amount,
            Currency = "GBP",
            Code = code,
        };
        foreach (var (key, value) in metadata)
        {
            transfer.Metadata[key] = value;
        }
        return transfer;
    }

    /// <summary>A card payment hold from <paramref name="account"/> to the bank, at a merchant.</summary>
    public Transfer CardHold(string account, long amount, string merchant = "Tesco", uint timeoutSeconds = 0)
    {
        var hold = Payment(account, BankAccount, amount, code: 4,
            ("description", merchant), ("merchant_name", merchant), ("category", "groceries"), ("mcc", "5411"));
        hold.Flags = (uint)TransferFlags.Pending;
        hold.TimeoutSeconds = timeoutSeconds;
        return hold;
    }

    public static Transfer Post(Transfer hold, long amount = 0) => new()
    {
        Id = FakeLedger.Id(NewId()),
        PendingId = hold.Id,
        Amount = amount,
        Currency = hold.Currency,
        Code = hold.Code,
        Flags = (uint)TransferFlags.PostPending,
    };

    public static Transfer Void(Transfer hold) => new()
    {
        Id = FakeLedger.Id(NewId()),
        PendingId = hold.Id,
        Currency = hold.Currency,
        Code = hold.Code,
        Flags = (uint)TransferFlags.VoidPending,
    };

    public async Task<Transfer> SubmitAsync(Transfer transfer)
    {
        var result = (await Ledger.SubmitTransfersAsync(new SubmitTransfersRequest { Transfers = { transfer } })).Results.Single();
        Assert.Equal(TransferStatus.Ok, result.Status);
        return result.Transfer;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>One host shared by the tests of a class; each test makes its own accounts.</summary>
public sealed class FeedHostFixture : IAsyncLifetime
{
    private FeedTestHost? _host;

    public FeedTestHost Host => _host ?? throw new InvalidOperationException("The host has not started.");

    public async Task InitializeAsync() => _host = await FeedTestHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}
