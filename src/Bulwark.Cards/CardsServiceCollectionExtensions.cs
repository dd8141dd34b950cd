using Bulwark.Cards.Authorisation;
using Bulwark.Cards.Clearing;
using Bulwark.Cards.Journal;
using Bulwark.Cards.Link;
using Bulwark.Cards.Telemetry;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Overload;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cards;

public static class CardsServiceCollectionExtensions
{
    /// <summary>
    /// Hosts the issuer processor in this process: the ISO 8583 link on
    /// <see cref="CardsOptions.LinkEndpoint"/>, the journal at <see cref="CardsOptions.JournalPath"/>,
    /// the stand-in replayer, and clients of the ledger and accounts through <c>bulwark:///</c>.
    /// Resolve <see cref="CardLink"/> for the bound address and <see cref="CardClearing"/> to ingest
    /// clearing files. The scheme reaches the processor only over the link; its internal gRPC
    /// contract (<see cref="MapCards"/>: the journal for operators' tools) is on the internal port.
    /// </summary>
    public static IServiceCollection AddCards(this IServiceCollection services, CardsOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddMetrics();
        // Card authorisations are shed last: every call of the card processor carries the priority
        // that may use the share of a service's calls in flight kept from customer traffic.
        services.AddServiceClient("ledger", channel => new LedgerClient(channel.WithPriority()));
        services.AddServiceClient("accounts", channel => new AccountsClient(channel.WithPriority()));
        services.AddSingleton(_ => new CardJournal(options.JournalPath));
        services.AddSingleton<CardsMetrics>();
        services.AddSingleton(provider => new CardsStatus(provider.GetRequiredService<CardsMetrics>(), provider.GetRequiredService<CardJournal>()));
        // The host may have registered the configuration-backed limit (ConfigStandInLimit) before this.
        services.TryAddSingleton<IStandInLimit>(_ => new FixedStandInLimit(options));
        services.AddSingleton(provider => new CardProcessor(options, provider.GetRequiredService<IStandInLimit>(), provider.GetRequiredService<CardJournal>(), provider.GetRequiredService<LedgerClient>(),
            provider.GetRequiredService<AccountsClient>(), provider.GetRequiredService<CardsMetrics>(), options.Time, provider.GetRequiredService<ILogger<CardProcessor>>()));
        services.AddSingleton(provider => new CardsWarmUp(provider.GetRequiredService<CardProcessor>()));
        services.AddSingleton<CardLinkServer>();
        services.AddSingleton(provider => new CardLink(provider.GetRequiredService<CardLinkServer>()));
        services.AddSingleton(provider => new CardClearing(options, provider.GetRequiredService<CardJournal>(), provider.GetRequiredService<CardProcessor>(),
            provider.GetRequiredService<AccountsClient>(), provider.GetRequiredService<CardsMetrics>(), provider.GetRequiredService<ILogger<CardClearing>>()));
        services.AddHostedService(provider => provider.GetRequiredService<CardLinkServer>());
        services.AddHostedService(provider => new StandInReplayer(options, provider.GetRequiredService<CardProcessor>(), TimeProvider.System, provider.GetRequiredService<ILogger<StandInReplayer>>()));
        return services;
    }

    /// <summary>Maps the processor's internal contract (<c>cards.proto</c>) on the internal gRPC port.</summary>
    public static IEndpointRouteBuilder MapCards(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<CardJournalGrpcService>();
        return endpoints;
    }
}
