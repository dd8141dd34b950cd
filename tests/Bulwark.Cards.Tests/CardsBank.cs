using System.Globalization;
using System.Net;
using Bulwark.Accounts;
using Bulwark.Accounts.Protos;
using Bulwark.Cards.Authorisation;
using Bulwark.Cards.Clearing;
using Bulwark.Config;
using Bulwark.Feed;
using Bulwark.Ledger;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Configuration;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cards.Tests;

/// <summary>
/// A small bank in one process on SQLite in a temporary directory: the real ledger, accounts and
/// feed services, and the card processor listening on a free loopback port. One customer with a
/// funded account and a card. The ledger can be made slow (<see cref="SlowLedger"/>) to force stand-in.
/// </summary>
public sealed class CardsBank : IAsyncDisposable
{
    public const long OpeningBalance = 10_000;
    public static readonly UInt128 FundingAccountId = new(0x42_75_6C_77_61_72_6B_00UL, 1);
    public static readonly UInt128 SettlementAccountId = new(0x42_75_6C_77_61_72_6B_00UL, 2);

    private WebApplication? _app;
    private Bulwark.Platform.Overload.OverloadOptions _overload = new();

    private LogCapture? _logs;

    /// <summary>Also runs the configuration service in the host, and the processor reads its stand-in limit from it.</summary>
    private bool _configuration;

    private CardsBank(string directory) => Directory = directory;

    public string Directory { get; }

    public string LedgerPath => Path.Combine(Directory, "ledger.db");

    public string JournalPath => Path.Combine(Directory, "cards-journal.db");

    public SlowLedger Slow { get; } = new();

    public IPEndPoint LinkEndpoint { get; private set; } = new(IPAddress.Loopback, 0);

    public string Pan { get; private set; } = "";

    public string Expiry { get; private set; } = "";

    public string CustomerId { get; private set; } = "";

    public string CardId { get; private set; } = "";

    public string LedgerAccountId { get; private set; } = "";

    public IServiceProvider Services => _app!.Services;

    public LedgerClient Ledger => Services.GetRequiredService<LedgerClient>();

    public AccountsClient Accounts => Services.GetRequiredService<AccountsClient>();

    public CardClearing Clearing => Services.GetRequiredService<CardClearing>();

    /// <summary>The processor's internal contract (its journal), as operators' tools call it.</summary>
    public Bulwark.Cards.Protos.Cards.CardsClient Cards => Services.GetRequiredService<Bulwark.Cards.Protos.Cards.CardsClient>();

    public static async Task<CardsBank> StartAsync(Func<CardsOptions, CardsOptions>? configure = null, string? directory = null,
        Bulwark.Platform.Overload.OverloadOptions? overload = null, LogCapture? logs = null, bool configuration = false)
    {
        var bank = new CardsBank(directory ?? Path.Combine(Path.GetTempPath(), "bulwark-cards-" + Guid.NewGuid().ToString("n")))
        {
            _overload = overload ?? new(),
            _logs = logs,
            _configuration = configuration,
        };
        await bank.StartHostAsync(configure);
        if (directory is null)
        {
            await bank.SeedAsync();
        }
        return bank;
    }

    /// <summary>Stops the host and starts a new one on the same files (a processor restart).</summary>
    public async Task RestartAsync(Func<CardsOptions, CardsOptions>? configure = null)
    {
        await StopHostAsync();
        await StartHostAsync(configure);
    }

    public CardsOptions DefaultOptions() => new()
    {
        JournalPath = JournalPath,
        SettlementLedgerAccountId = SettlementAccountId.ToString("x32", CultureInfo.InvariantCulture),
        // Generous: these tests are about decisions, not deadlines, and run beside the rest of the
        // suite on 2 cores (a cold first call took over 500 ms there). Tests of stand-in set
        // their own budget, below the slow ledger's 3 s.
        DeadlineBudget = TimeSpan.FromSeconds(5),
        StandInReplayInterval = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>
    /// Options for the slow-ledger tests: a 500 ms budget (below <see cref="SlowLedger"/>'s 3 s,
    /// and so are the replayer's 5x attempts), replays every 200 ms, and the given stand-in limit
    /// per card (0: stand-in declines everything).
    /// </summary>
    public static Func<CardsOptions, CardsOptions> SlowLedgerOptions(long standInLimitPerCardMinor) => options => new CardsOptions
    {
        JournalPath = options.JournalPath,
        SettlementLedgerAccountId = options.SettlementLedgerAccountId,
        DeadlineBudget = TimeSpan.FromMilliseconds(500),
        StandInLimitPerCardMinor = standInLimitPerCardMinor,
        StandInReplayInterval = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>Stops the processor and the ledger and checks the ledger file: money conserved.</summary>
    public async Task AssertMoneyConservedAsync()
    {
        await StopHostAsync();
        var report = LedgerChecker.Check(LedgerPath);
        Assert.True(report.Ok, string.Join("; ", report.Problems));
    }

    /// <summary>Polls (bounded: 200 tries, 100 ms apart) until the condition holds.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            if (await condition())
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail("Never happened: " + what);
    }

    /// <summary>A scheme connection that has signed on; <see cref="SchemeClient.ConnectAsync"/> for one that has not.</summary>
    public Task<SchemeClient> ConnectAsync() => SchemeClient.ConnectSignedOnAsync(LinkEndpoint);

    /// <summary>
    /// The processor's hold id for an authorisation (docs/internals/cards.md: SHA-256 of
    /// "bulwark-cards|hold|" + name, first 16 bytes big-endian, top byte replaced by the card namespace).
    /// </summary>
    public static UInt128 HoldId(string key)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("bulwark-cards|hold|" + key));
        return Uint128.InNamespace(IdNamespace.Card, System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(hash));
    }

    public async Task<Bulwark.Ledger.Protos.Account> LedgerAccountAsync(string hex)
    {
        var response = await Ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { Proto(UInt128.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)) } });
        return response.Accounts.Single();
    }

    public Task<Bulwark.Ledger.Protos.Account> CustomerAccountAsync() => LedgerAccountAsync(LedgerAccountId);

    /// <summary>The customer's card payments (code 4: holds and posted payments, not the post/void records) in the ledger, newest first.</summary>
    public async Task<IReadOnlyList<Transfer>> CardTransfersAsync()
    {
        var response = await Ledger.ListAccountTransfersAsync(new ListAccountTransfersRequest
        {
            AccountId = Proto(UInt128.Parse(LedgerAccountId, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)),
            Limit = 100,
        });
        return [.. response.Transfers.Where(transfer => transfer.Code == 4 && (transfer.PendingId is null || (transfer.PendingId.High == 0 && transfer.PendingId.Low == 0)))];
    }

    public async Task<Bulwark.Feed.Protos.ListFeedResponse> FeedAsync() =>
        await Services.GetRequiredService<FeedClient>().ListFeedAsync(new Bulwark.Feed.Protos.ListFeedRequest { LedgerAccountId = LedgerAccountId, Limit = 100 });

    public async Task<IssuedCard> IssueCardAsync(string pan, int expiryMonth, int expiryYear)
    {
        var card = await Accounts.IssueCardAsync(new IssueCardRequest { CustomerId = CustomerId, AccountId = AccountId, Pan = pan, ExpiryMonth = expiryMonth, ExpiryYear = expiryYear });
        return new IssuedCard(card.CardId, pan, string.Create(CultureInfo.InvariantCulture, $"{expiryYear % 100:D2}{expiryMonth:D2}"));
    }

    public async Task FreezeAsync(string cardId) =>
        await Accounts.SetCardFrozenAsync(new SetCardFrozenRequest { CustomerId = CustomerId, CardId = cardId, Frozen = true });

    public string AccountId { get; private set; } = "";

    public static string LuhnPan(string body)
    {
        var sum = 0;
        var doubleIt = true;
        for (var i = body.Length - 1; i >= 0; i--)
        {
            var digit = body[i] - '0';
            if (doubleIt)
            {
                digit *= 2;
                if (digit > 9)
                {
                    digit -= 9;
                }
            }
            sum += digit;
            doubleIt = !doubleIt;
        }
        return body + (char)('0' + ((10 - (sum % 10)) % 10));
    }

    public static Uint128 Proto(UInt128 value) => new() { High = (ulong)(value >> 64), Low = (ulong)value };

    public async ValueTask DisposeAsync()
    {
        await StopHostAsync();
        if (System.IO.Directory.Exists(Directory))
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private async Task StartHostAsync(Func<CardsOptions, CardsOptions>? configure)
    {
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Warning, Overload = _overload }, new InMemoryServiceRegistry());
        if (_logs is not null)
        {
            // Everything Bulwark logs, Information up, whatever the console shows.
            builder.Logging.AddProvider(_logs);
            builder.Logging.AddFilter<LogCapture>("Bulwark", LogLevel.Information);
        }
        builder.Services.AddSingleton(Slow);
        builder.Services.AddGrpc(grpc => grpc.Interceptors.Add<SlowLedgerInterceptor>());
        builder.Services.AddLedger(new LedgerOptions { DatabasePath = LedgerPath });
        builder.Services.AddAccounts(new AccountsOptions
        {
            DatabasePath = Path.Combine(Directory, "accounts.db"),
            TokenisationKeyPath = Path.Combine(Directory, "keys", "tokenisation.key"),
            PasswordIterations = 1_000,
        });
        builder.Services.AddFeed(new FeedOptions());
        if (_configuration)
        {
            builder.Services.AddConfig(new Bulwark.Config.ConfigOptions { DatabasePath = Path.Combine(Directory, "config.db") });
            builder.Services.AddBulwarkConfig(new Bulwark.Platform.Configuration.ConfigClientOptions
            {
                Prefixes = [ConfigStandInLimit.Prefix],
                CachePath = Path.Combine(Directory, "cards", "config-cache.json"),
                ProgressIntervalMilliseconds = 500,
            });
            builder.Services.AddSingleton<IStandInLimit, ConfigStandInLimit>();
        }
        builder.Services.AddCards(configure is null ? DefaultOptions() : configure(DefaultOptions()));
        builder.Services.AddServiceClient("ledger", channel => new LedgerClient(channel));
        builder.Services.AddServiceClient("accounts", channel => new AccountsClient(channel));
        builder.Services.AddServiceClient("feed", channel => new FeedClient(channel));
        builder.Services.AddHostedBulwarkService("cards");
        builder.Services.AddServiceClient("cards", channel => new Bulwark.Cards.Protos.Cards.CardsClient(channel));
        var app = builder.Build();
        app.UsePlatform();
        app.MapLedger();
        app.MapAccounts();
        app.MapFeed();
        app.MapCards();
        if (_configuration)
        {
            app.MapConfig();
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await app.StartAsync(timeout.Token);
        _app = app;
        LinkEndpoint = await app.Services.GetRequiredService<CardLink>().GetEndpointAsync();
    }

    private async Task StopHostAsync()
    {
        if (_app is null)
        {
            return;
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
        _app = null;
    }

    private async Task SeedAsync()
    {
        var created = await Ledger.CreateAccountsAsync(new CreateAccountsRequest
        {
            Accounts =
            {
                new Bulwark.Ledger.Protos.Account { Id = Proto(FundingAccountId), Currency = "GBP", Code = 100 },
                new Bulwark.Ledger.Protos.Account { Id = Proto(SettlementAccountId), Currency = "GBP", Code = 100 },
            },
        });
        Assert.All(created.Results, result => Assert.Equal(CreateAccountStatus.Ok, result.Status));
        var customer = await Accounts.CreateCustomerAsync(new CreateCustomerRequest { Name = "Card Holder", Email = "holder@bulwark.example", Password = "correct horse battery", Currency = "GBP" });
        CustomerId = customer.Customer.CustomerId;
        AccountId = customer.Account.AccountId;
        LedgerAccountId = customer.Account.LedgerAccountId;
        var funded = await Ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers =
            {
                new Transfer
                {
                    Id = Proto(Uint128.InNamespace(IdNamespace.Bank, new UInt128(7, 7))),
                    DebitAccountId = Proto(FundingAccountId),
                    CreditAccountId = Proto(UInt128.Parse(LedgerAccountId, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)),
                    Amount = OpeningBalance,
                    Currency = "GBP",
                    Code = 1,
                },
            },
        });
        Assert.Equal(TransferStatus.Ok, funded.Results.Single().Status);
        var expiryYear = DateTime.UtcNow.Year + 3;
        var card = await IssueCardAsync(LuhnPan("535522001000001"), 12, expiryYear);
        Pan = card.Pan;
        Expiry = card.Expiry;
        CardId = card.CardId;
    }
}

public sealed record IssuedCard(string CardId, string Pan, string Expiry);

/// <summary>When on, the ledger's SubmitTransfers waits 3 s first (aborted when the caller gives up): a slow ledger.</summary>
public sealed class SlowLedger
{
    /// <summary>Ledger calls carrying this header are held until <see cref="Release"/>: customer traffic that fills the ledger.</summary>
    public const string HoldHeader = "test-hold";

    /// <summary>Ledger calls carrying this header are never slowed: the test's own moves that must commit before the card processor's.</summary>
    public const string FastHeader = "test-fast";

    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _held;

    public volatile bool On;

    public int Held => Volatile.Read(ref _held);

    public void Release() => _release.TrySetResult();

    internal async Task HoldAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _held);
        await _release.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
    }
}

public sealed class SlowLedgerInterceptor(SlowLedger slow) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        if (slow.On && context.Method.EndsWith("/SubmitTransfers", StringComparison.Ordinal) && context.RequestHeaders.GetValue(SlowLedger.FastHeader) is null)
        {
            await Task.Delay(TimeSpan.FromSeconds(3), context.CancellationToken);
        }
        if (context.RequestHeaders.GetValue(SlowLedger.HoldHeader) is not null)
        {
            await slow.HoldAsync(context.CancellationToken);
        }
        return await continuation(request, context);
    }
}
