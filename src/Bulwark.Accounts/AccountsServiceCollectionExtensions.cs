using Bulwark.Accounts.Grpc;
using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Security;
using Bulwark.Accounts.Storage;
using Bulwark.Accounts.Telemetry;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Security;
using Bulwark.Platform.Telemetry;
using Bulwark.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Accounts;

public static class AccountsServiceCollectionExtensions
{
    /// <summary>
    /// Hosts the accounts service in this process: its store (SQLite at
    /// <see cref="AccountsOptions.DatabasePath"/> unless an <see cref="IAccountsStore"/> is already
    /// registered), the tokenisation key, a ledger client through <c>bulwark:///ledger</c>, and
    /// the registry entry "accounts". Call <see cref="MapAccounts"/> on the built app.
    /// </summary>
    public static IServiceCollection AddAccounts(this IServiceCollection services, AccountsOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddHostedBulwarkService("accounts");
        services.AddServiceClient("ledger", channel => new LedgerClient(channel));
        services.AddMetrics();
        services.TryAddSingleton<IAccountsStore>(_ => options.PostgresConnectionString is { Length: > 0 } postgres
            ? new PostgresAccountsStore(postgres)
            : new SqliteAccountsStore(new SqliteDatabase(options.DatabasePath)));
        services.AddSingleton(_ => TokenisationKey.LoadOrCreate(options.TokenisationKeyPath));
        services.AddSingleton<CardTokeniser>();
        services.AddSingleton(_ => TransferIdKey.LoadOrCreate(options.TransferIdKeyFile));
        services.AddSingleton<CustomerTransferIds>();
        services.AddSingleton(_ => new PasswordHasher(options.PasswordIterations));
        services.AddSingleton(_ => new PasswordHashingQueue(options.PasswordHashingConcurrency, options.PasswordHashingQueueMax));
        services.AddSingleton<LedgerGateway>();
        services.AddSingleton<BankCredits>();
        services.AddServiceClient(SupportApprovalVerifier.Service, channel => new Bulwark.Support.Protos.Approvals.ApprovalsClient(channel));
        services.TryAddSingleton<IApprovalVerifier, SupportApprovalVerifier>();
        services.AddSingleton<AccountsMetrics>();
        services.AddSingleton<CallOutcomeInterceptor<AccountsMetrics>>();
        services.AddHostedService<AccountsStartup>();
        services.AddGrpc().AddServiceOptions<AccountsGrpcService>(grpc => grpc.Interceptors.Add<CallOutcomeInterceptor<AccountsMetrics>>());
        return services;
    }

    public static IEndpointRouteBuilder MapAccounts(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<AccountsGrpcService>();
        return endpoints;
    }
}
