using System.Globalization;
using System.Net;
using Bulwark.Accounts;
using Bulwark.Cards;
using Bulwark.Cli.Demo;
using Bulwark.Coherence;
using Bulwark.Coherence.Checking;
using Bulwark.Config;
using Bulwark.Edge;
using Bulwark.Edge.BankStatus;
using Bulwark.Edge.Staff;
using Bulwark.Edge.Staff.Ops;
using Bulwark.EventLog;
using Bulwark.EventLog.Files;
using Bulwark.EventLog.JetStream;
using Bulwark.Feed;
using Bulwark.Ledger;
using Bulwark.Ledger.Events;
using Bulwark.Ledger.Routing;
using Bulwark.Platform.Configuration;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Bulwark.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Bulwark.Cli.Hosting;

/// <summary>What a host knows when it adds a service: where data lives, the PostgreSQL store (or null for SQLite), the card link's endpoint.</summary>
public sealed record ModuleContext(BankPaths Paths, string? Postgres, IPEndPoint CardLink)
{
    /// <summary>
    /// The ledger's placement map when this process hosts every cell (the one-process bank):
    /// the ledger is then its cells, and every client reaches them through the placement router.
    /// Null: one ledger instance serving one cell (<c>serve</c>).
    /// </summary>
    public PlacementMap? Placement { get; init; }

    /// <summary>
    /// The one cell this process serves (<c>serve --service ledger</c> in a cluster), with
    /// <see cref="PlacementStore"/>: the ledger is then that cell, and reaches the other cells
    /// through the placement router. Null: the one-process bank (<see cref="Placement"/>).
    /// </summary>
    public LedgerOptions? LedgerCell { get; init; }

    /// <summary>Where a cluster's process reads the placement map (etcd, with a local copy), or null outside a cluster.</summary>
    public Func<IServiceProvider, IPlacementStore>? PlacementStore { get; init; }

    /// <summary>
    /// The event log's NATS servers (<c>serve --event-log</c>, else <c>BULWARK_EVENT_LOG</c>), parsed
    /// and checked at start; null when none is given: a cluster's ledger cell then publishes its events nowhere.
    /// </summary>
    public Bulwark.EventLog.JetStream.EventLogAddress? EventLog { get; init; }

    /// <summary>
    /// The directory of the file event log every ledger cell of this process publishes to (the
    /// one-process bank: DATA/events; one writer per directory, this process). Null: none.
    /// </summary>
    public string? EventsDirectory { get; init; }
}

/// <summary>
/// The bank's services, declared once, in start order (callees first). <c>bulwark run</c> adds
/// all of them to one process, <c>bulwark serve --service NAME</c> one of them, and the local
/// cluster starts their instances from this list.
/// </summary>
public static class BankModules
{
    public const string Ledger = "ledger";
    public const string Accounts = "accounts";
    public const string Feed = "feed";
    public const string Support = SupportServiceCollectionExtensions.ServiceName;
    public const string Cards = "cards";
    public const string Edge = "edge";
    public const string StaffEdge = "staff-edge";
    public const string Coherence = CoherenceServiceCollectionExtensions.ServiceName;
    public const string Config = ConfigServiceCollectionExtensions.ServiceName;

    /// <summary>The bank's name in the JetStream event log (its stream and subjects).</summary>
    public const string EventsBank = "bulwark";

    private static void AddLedger(IServiceCollection services, ModuleContext context)
    {
        if (context.LedgerCell is { } cell)
        {
            // One cell of a cluster: registered as ledger-NAME only (every client goes through the
            // router, which calls cells by that name), reaching the other cells through the router too.
            services.AddPlacement(context.PlacementStore ?? throw new InvalidOperationException("A ledger cell of a cluster needs the placement store."),
                new PlacementViewOptions { ClusterId = cell.ClusterId });
            services.AddLedgerRouting();
            services.AddLedgerCells([cell]);
            services.AddLedgerCellPeers();
            if (context.EventLog is { } address)
            {
                // The stream cluster up made: three replicas, or one per server when there are fewer.
                var options = address.Options(Math.Min(3, address.Servers.Count), EventsBank);
                services.AddLedgerEventLog(provider => ReopeningEventLog.JetStream(options,
                    provider.GetRequiredService<ILogger<JetStreamEventLog>>(), provider.GetRequiredService<EventLogMetrics>()));
                services.TryAddSingleton(provider => new EventLogMetrics(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
            }
            return;
        }
        if (context.Placement is not { } map)
        {
            services.AddLedger(new LedgerOptions { DatabasePath = context.Paths.Ledger, PostgresConnectionString = context.Postgres });
            return;
        }
        var store = context.Paths.Placement;
        services.AddPlacement(provider => new FilePlacementStore(store, provider.GetRequiredService<TimeProvider>()));
        services.AddLedgerRouting();
        services.AddLedgerCells(BankLedger.CellOptions(context.Paths, map, context.Postgres));
        services.AddLedgerCellPeers();
        if (context.EventsDirectory is { } events)
        {
            // Every cell of the one-process bank publishes to one file log: one writer per directory, this process.
            var options = new FileEventLogOptions { Directory = events };
            services.TryAddSingleton(provider => new EventLogMetrics(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
            services.AddLedgerEventLog(provider => ReopeningEventLog.File(options,
                provider.GetRequiredService<ILogger<FileEventLog>>(), provider.GetRequiredService<EventLogMetrics>()));
        }
        if (context.Postgres is null)
        {
            // bulwark cells add: a cell added to the map while the bank runs gets its own file and owns nothing until moves give it partitions.
            var paths = context.Paths;
            services.AddLedgerCellsFollowingMap((cell, current) => new LedgerOptions
            {
                CellName = cell,
                ClusterId = current.ClusterId,
                PartitionCount = current.PartitionCount,
                InitialPartitions = [],
                DatabasePath = paths.LedgerCell(cell),
            });
        }
    }

    public static readonly IReadOnlyList<ServiceModule<ModuleContext>> All =
    [
        new(Ledger, Stateful: true, ServiceListeners.None, DataPerInstance: false, ReplicasDefault: 1,
            AddLedger,
            app => app.MapLedger()),
        new(Accounts, Stateful: true, ServiceListeners.None, DataPerInstance: false, ReplicasDefault: 1,
            (services, context) => services.AddAccounts(new AccountsOptions { DatabasePath = context.Paths.Accounts, PostgresConnectionString = context.Postgres, TokenisationKeyPath = context.Paths.TokenisationKey }),
            app => app.MapAccounts()),
        // Staff directory and audit log (issue 14); on PostgreSQL in schema 'support' of the bank's database.
        new(Support, Stateful: true, ServiceListeners.None, DataPerInstance: false, ReplicasDefault: 1,
            (services, context) => services.AddSupport(new SupportOptions { DatabasePath = context.Paths.Support, PostgresConnectionString = context.Postgres, TotpKeyPath = context.Paths.TotpKey }),
            app => app.MapSupport()),
        new(Feed, Stateful: false, ServiceListeners.None, DataPerInstance: false, ReplicasDefault: 2,
            (services, _) => services.AddFeed(new FeedOptions()),
            app => app.MapFeed()),
        // Versioned configuration with watches (docs/concepts/configuration.md): before the edge, which will read it.
        new(Config, Stateful: true, ServiceListeners.None, DataPerInstance: false, ReplicasDefault: 1,
            (services, context) => services.AddConfig(new ConfigOptions { DatabasePath = context.Paths.Config, PostgresConnectionString = context.Postgres }),
            app => app.MapConfig()),
        // Each card processor keeps its own durable journal (stand-in decisions it must post
        // later, exactly once): instances never share one, so each gets a data directory of its own.
        new(Cards, Stateful: false, ServiceListeners.CardLink, DataPerInstance: true, ReplicasDefault: 2,
            (services, context) =>
            {
                // The stand-in limit per card is configuration (cards/stand-in/limit-per-card-minor), its last good value kept (R14).
                AddConfigClient(services, context.Paths.CardsConfigCache, CardsConfigStartWaitSeconds);
                services.TryAddSingleton<Bulwark.Cards.Authorisation.IStandInLimit, Bulwark.Cards.Authorisation.ConfigStandInLimit>();
                services.AddCards(new CardsOptions
                {
                    LinkEndpoint = context.CardLink,
                    JournalPath = context.Paths.CardsJournal,
                    SettlementLedgerAccountId = DemoSeeder.CardSettlementAccountId.ToString("x32", CultureInfo.InvariantCulture),
                    LinkAllowedSources = CardLinkAllowedSources(),
                });
                // Registered: operators' tools call its journal contract, and deploys and status gate on its health there.
                services.AddHostedBulwarkService(Cards);
            },
            app => app.MapCards()),
        // The status banner (docs/guides/ops-view.md) read through the platform's configuration client:
        // last good banner kept on disk, never cleared by a not-found it cannot trust (R14).
        new(Edge, Stateful: false, ServiceListeners.Public, DataPerInstance: false, ReplicasDefault: 2,
            (services, context) =>
            {
                AddConfigClient(services, context.Paths.EdgeConfigCache, EdgeConfigStartWaitSeconds);
                services.AddEdge(new EdgeOptions { SigningKeyPath = context.Paths.SigningKey });
            },
            app => app.MapEdge())
        {
            // Nothing calls the edge through discovery; customers reach it on its public port.
            Registers = false,
        },
        // The staff edge (docs/concepts/staff-edge.md): staff logins checked by the support service,
        // allowed source ranges read from configuration through the platform's client (last good
        // ranges kept on disk, R14), a port of its own.
        new(StaffEdge, Stateful: false, ServiceListeners.Staff, DataPerInstance: false, ReplicasDefault: 1,
            (services, context) =>
            {
                AddConfigClient(services, context.Paths.StaffEdgeConfigCache, StaffEdgeConfigStartWaitSeconds);
                services.TryAddSingleton<IStaffSourceRanges, ConfigStaffSourceRanges>();
                if (context.PlacementStore is { } placement && !services.Any(service => service.ServiceType == typeof(PlacementView)))
                {
                    // The ops view's cells and placement, read as every process of a cluster reads the map.
                    services.AddPlacement(placement);
                }
                services.AddSupportStaffDirectory();
                services.AddStaffEdge(new StaffEdgeOptions
                {
                    SigningKeyPath = context.Paths.StaffSigningKey,
                    TrustedProxies = ListVariable(StaffEdgeTrustedProxiesVariable),
                });
                services.AddStaffOps(new OpsOptions());
            },
            app => app.MapStaffEdge())
        {
            // Nothing calls it through discovery; staff reach it on its own port.
            Registers = false,
        },
        // Synthetic writes and reads in every ledger cell, always (docs/internals/coherence.md).
        // Registered although nothing calls it: deploys and status gate on its health there.
        new(Coherence, Stateful: false, ServiceListeners.None, DataPerInstance: false, ReplicasDefault: 1,
            // app_read reaches the app API at BULWARK_COHERENCE_APP_URL (cluster up sets the edges'), else on this process's own public port (bulwark run).
            (services, context) =>
            {
                services.AddCoherence(CoherenceOptions.FromEnvironment(
                    Environment.GetEnvironmentVariable(CoherenceOptions.IntervalVariable), Environment.GetEnvironmentVariable(CoherenceOptions.AppApiVariable)));
                // The configuration service's checks read through the process's configuration client (bulwark run: the edge's).
                AddConfigClient(services, context.Paths.CoherenceConfigCache, CoherenceConfigStartWaitSeconds);
                services.AddCoherenceConfigurationChecks([ConfigStaffSourceRanges.Key, StatusBanner.Key]);
            },
            _ => { }),
    ];

    /// <summary>
    /// The configuration client of a process hosting an edge: one per process, watching both edges'
    /// prefixes (the staff edge's ranges, the status banner). In <c>bulwark run</c> the edge and the
    /// staff edge share a process and the first of them adds it, with its cache file (the edge's).
    /// </summary>
    private static void AddConfigClient(IServiceCollection services, string cachePath, double startWaitSeconds)
    {
        if (services.Any(service => service.ServiceType == typeof(ConfigValues)))
        {
            return;
        }
        services.AddBulwarkConfig(new ConfigClientOptions
        {
            // One client per process, whichever roles it hosts (bulwark run hosts them all): every role's prefix.
            Prefixes = [ConfigStaffSourceRanges.Prefix, StatusBanner.Prefix, Bulwark.Cards.Authorisation.ConfigStandInLimit.Prefix, ConfigReadCheck.Prefix],
            CachePath = cachePath,
            StartWaitSeconds = startWaitSeconds,
        });
        services.TryAddSingleton<IStatusBannerSource, ConfigStatusBanner>();
    }

    /// <summary>
    /// How long the customer edge's start waits for the configuration service: briefly. The banner
    /// is the only setting it reads, its last good value comes from the cache file, and an edge
    /// restarted while configuration is away (the 2017 chain runs without it) must serve payments at once.
    /// </summary>
    private const double EdgeConfigStartWaitSeconds = 0.25;

    /// <summary>
    /// The card processor's: briefly, as the customer edge's — authorisations must be answered from
    /// the first second, and the stand-in limit's last good value comes from the cache file (or the
    /// default until configuration first answers).
    /// </summary>
    private const double CardsConfigStartWaitSeconds = 0.25;

    /// <summary>The coherence checker's: briefly; its first round comes an interval after the start, and the client keeps watching.</summary>
    private const double CoherenceConfigStartWaitSeconds = 0.25;

    /// <summary>The staff edge's: the client's default, 2 s — its allowed ranges decide who gets in, worth a short wait for the current ones.</summary>
    private const double StaffEdgeConfigStartWaitSeconds = 2;

    /// <summary>Sources the card link accepts besides loopback, comma-separated CIDR blocks (docs/runbooks/card-link-allow-list.md).</summary>
    public const string CardLinkAllowedSourcesVariable = "BULWARK_CARD_LINK_ALLOWED_SOURCES";

    /// <summary>Proxies in front of the staff edge whose X-Forwarded-For is believed, comma-separated CIDR blocks (none by default; docs/concepts/staff-edge.md).</summary>
    public const string StaffEdgeTrustedProxiesVariable = "BULWARK_STAFF_EDGE_TRUSTED_PROXIES";

    /// <summary>Loopback (the default) plus the blocks in <see cref="CardLinkAllowedSourcesVariable"/>; a bad block fails the start.</summary>
    private static IReadOnlyList<string> CardLinkAllowedSources() => [.. new CardsOptions().LinkAllowedSources, .. ListVariable(CardLinkAllowedSourcesVariable)];

    /// <summary>A comma-separated list from the environment (empty when unset); the options that take it check each entry.</summary>
    private static IReadOnlyList<string> ListVariable(string name) =>
        Environment.GetEnvironmentVariable(name)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>The module called <paramref name="name"/>, or null.</summary>
    public static ServiceModule<ModuleContext>? Find(string name) => All.FirstOrDefault(module => module.Name == name);

    /// <summary>"ledger, accounts, support, feed, config, cards, edge, staff-edge, coherence": for help texts and errors.</summary>
    public static string Names => string.Join(", ", All.Select(module => module.Name));
}
