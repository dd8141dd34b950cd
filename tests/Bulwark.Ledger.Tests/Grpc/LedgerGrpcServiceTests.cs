using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Ledger.Tests.Grpc;

/// <summary>The service hosted the way the bank hosts it, called through <c>bulwark:///ledger</c>.</summary>
public sealed class LedgerGrpcServiceTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private WebApplication? _app;
    private LedgerClient? _client;

    private LedgerClient Client => _client!;

    public async Task InitializeAsync()
    {
        var registry = new InMemoryServiceRegistry();
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Warning }, registry);
        builder.Services.AddLedger(new LedgerOptions { DatabasePath = _directory.File("ledger.db") });
        _app = builder.Build();
        _app.UsePlatform();
        _app.MapLedger();
        await _app.StartAsync();
        _client = new LedgerClient(_app.Services.GetRequiredService<IServiceChannelFactory>().GetChannel("ledger"));
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        _directory.Dispose();
    }

    private async Task CreateAccountsAsync()
    {
        var response = await Client.CreateAccountsAsync(new CreateAccountsRequest
        {
            Accounts =
            {
                new Account { Id = ((UInt128)1).ToProto(), Currency = "GBP", Code = 100 },
                new Account { Id = ((UInt128)2).ToProto(), Currency = "GBP", Code = 1, Flags = (uint)AccountFlags.DebitsMustNotExceedCredits },
            },
        });
        Assert.All(response.Results, r => Assert.Equal(CreateAccountStatus.Ok, r.Status));
    }

    /// <summary>A transfer id of the bank's own namespace, which these tests declare.</summary>
    private static UInt128 BankId(int id) => Uint128.InNamespace(IdNamespace.Bank, (UInt128)id);

    private static Transfer Transfer(int id, int debit, int credit, long amount) => new()
    {
        Id = BankId(id).ToProto(),
        DebitAccountId = ((UInt128)debit).ToProto(),
        CreditAccountId = ((UInt128)credit).ToProto(),
        Amount = amount,
        Currency = "GBP",
        Code = 1,
        Metadata = { ["description"] = "Funding" },
    };

    [Fact]
    public async Task SubmitTransfers_ThroughBulwarkScheme_ResultsInOrderAndReadableBack()
    {
        await CreateAccountsAsync();

        var submitted = await Client.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers = { Transfer(10, 1, 2, 500), Transfer(11, 2, 1, 501), Transfer(10, 1, 2, 500) },
        });
        var accounts = await Client.GetAccountsAsync(new GetAccountsRequest { Ids = { ((UInt128)2).ToProto(), ((UInt128)9).ToProto() } });
        var transfers = await Client.GetTransfersAsync(new GetTransfersRequest { Ids = { BankId(10).ToProto(), BankId(11).ToProto() } });
        var listed = await Client.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = ((UInt128)2).ToProto() });

        Assert.Equal([TransferStatus.Ok, TransferStatus.ExceedsCredits, TransferStatus.Ok], submitted.Results.Select(r => r.Status));
        Assert.True(submitted.Results[2].Duplicate);
        Assert.Equal(submitted.Results[0].Transfer, submitted.Results[2].Transfer);
        Assert.Equal(500, Assert.Single(accounts.Accounts).CreditsPosted);
        Assert.Equal((UInt128)9, Assert.Single(accounts.Missing).ToUInt128());
        Assert.Equal("Funding", Assert.Single(transfers.Transfers).Metadata["description"]);
        Assert.Equal(BankId(11), Assert.Single(transfers.Missing).ToUInt128());
        Assert.Equal(TransferState.Posted, Assert.Single(listed.Transfers).State);
        Assert.Equal("", listed.NextCursor);
    }

    [Fact]
    public async Task SubmitTransfers_HoldThenPostWithUnsetAccounts_PostTakesTheHoldsAccounts()
    {
        await CreateAccountsAsync();
        var hold = Transfer(10, 1, 2, 300);
        hold.Flags = (uint)TransferFlags.Pending;
        hold.TimeoutSeconds = 600;
        await Client.SubmitTransfersAsync(new SubmitTransfersRequest { IdNamespace = IdNamespace.Bank, Transfers = { hold } });

        var post = await Client.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers = { new Transfer { Id = BankId(11).ToProto(), PendingId = BankId(10).ToProto(), Flags = (uint)TransferFlags.PostPending, Amount = 200 } },
        });

        var result = Assert.Single(post.Results);
        Assert.Equal(TransferStatus.Ok, result.Status);
        Assert.Equal((UInt128)1, result.Transfer.DebitAccountId.ToUInt128());
        Assert.Equal(200, result.Transfer.Amount);
        Assert.Equal(BankId(10), result.Transfer.PendingId.ToUInt128());
    }

    [Fact]
    public async Task SubmitTransfers_TooMany_InvalidArgumentNamingTransfers()
    {
        var request = new SubmitTransfersRequest();
        request.Transfers.AddRange(Enumerable.Range(1, LedgerLimits.SubmitTransfersMax + 1).Select(i => Transfer(i, 1, 2, 1)));

        var error = await Assert.ThrowsAsync<RpcException>(() => Client.SubmitTransfersAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("transfers:", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitTransfers_MissingIds_StatusesNotErrors()
    {
        await CreateAccountsAsync();

        var response = await Client.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers = { new Transfer { Amount = 1, Currency = "GBP" }, new Transfer { Id = BankId(5).ToProto(), Amount = 1, Currency = "GBP" } },
        });

        Assert.Equal([TransferStatus.IdMustNotBeZero, TransferStatus.AccountsMustBeDifferent], response.Results.Select(r => r.Status));
    }

    [Fact]
    public async Task ListAccountTransfers_UnknownAccount_NotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = ((UInt128)77).ToProto() }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Theory]
    [InlineData(0, "", 0, 0, "account_id")]
    [InlineData(2, "", 201, 0, "limit")]
    [InlineData(2, "", -1, 0, "limit")]
    [InlineData(2, "", 0, -5, "since_unix_ms")]
    [InlineData(2, "bogus", 0, 0, "cursor")]
    public async Task ListAccountTransfers_BadField_InvalidArgumentNamingIt(int account, string cursor, int limit, long since, string field)
    {
        await CreateAccountsAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => Client.ListAccountTransfersAsync(new ListAccountTransfersRequest
        {
            AccountId = account == 0 ? null : ((UInt128)account).ToProto(),
            Cursor = cursor,
            Limit = limit,
            SinceUnixMs = since,
        }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith(field + ":", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAccounts_BadCurrency_StatusPerAccount()
    {
        var response = await Client.CreateAccountsAsync(new CreateAccountsRequest
        {
            Accounts = { new Account { Id = ((UInt128)1).ToProto(), Currency = "ABC" }, new Account { Currency = "GBP" } },
        });

        Assert.Equal([CreateAccountStatus.UnknownCurrency, CreateAccountStatus.IdMustNotBeZero], response.Results.Select(r => r.Status));
    }

    [Fact]
    public async Task GetAccounts_TooManyIds_InvalidArgumentNamingIds()
    {
        var request = new GetAccountsRequest();
        request.Ids.AddRange(Enumerable.Range(1, LedgerLimits.LookupIdsMax + 1).Select(i => ((UInt128)i).ToProto()));

        var error = await Assert.ThrowsAsync<RpcException>(() => Client.GetAccountsAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("ids:", error.Status.Detail, StringComparison.Ordinal);
    }
}
