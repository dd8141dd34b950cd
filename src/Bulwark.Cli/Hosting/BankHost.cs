using System.Net;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cli.Hosting;

/// <summary>Where the embedded bank keeps its files, all under one data directory.</summary>
public sealed record BankPaths(string DataDirectory)
{
    /// <summary>Cell "a"'s ledger store (and the whole ledger of a bank from before cells).</summary>
    public string Ledger => Path.Combine(DataDirectory, "ledger.db");

    /// <summary>A cell's ledger store: <c>ledger.db</c> for cell "a", <c>ledger-NAME.db</c> for the others.</summary>
    public string LedgerCell(string cell) => cell == "a" ? Ledger : Path.Combine(DataDirectory, $"ledger-{cell}.db");

    /// <summary>The placement map of the ledger's cells (docs/internals/cells.md).</summary>
    public string Placement => Path.Combine(DataDirectory, "placement.json");

    /// <summary>Which cells' ledger stores were made (<see cref="Bulwark.Platform.Placement.FileCellBirths"/>): a lost store made again takes nothing.</summary>
    public string CellBirths => Path.Combine(DataDirectory, "placement-births.json");

    /// <summary>The file event log of the one-process bank (docs/internals/event-log.md).</summary>
    public string Events => Path.Combine(DataDirectory, "events");

    public string Accounts => Path.Combine(DataDirectory, "accounts.db");

    public string Config => Path.Combine(DataDirectory, "config.db");

    public string TokenisationKey => Path.Combine(DataDirectory, "keys", "tokenisation.key");

    /// <summary>The support service's store: the staff directory and the audit log.</summary>
    public string Support => Path.Combine(DataDirectory, "support.db");

    /// <summary>The keys that encrypt staff TOTP secrets at rest (docs/runbooks/staff.md).</summary>
    public string TotpKey => Path.Combine(DataDirectory, "keys", "totp.key");

    /// <summary>
    /// The demo staff member's login (password and TOTP secret), owner-only, for the console; never
    /// logged. Among the keys, so that data backups leave it out and <c>backup keys</c> takes it.
    /// </summary>
    public string DemoStaff => Path.Combine(DataDirectory, "keys", "demo-staff.json");

    public string SigningKey => Path.Combine(DataDirectory, "keys", "edge-signing.key");

    /// <summary>The staff edge's token signing key (a ring of its own, never the customers').</summary>
    public string StaffSigningKey => Path.Combine(DataDirectory, "keys", "staff-signing.key");

    /// <summary>The staff edge's configuration client's last good values (its allowed ranges among them).</summary>
    public string StaffEdgeConfigCache => Path.Combine(DataDirectory, "staff-edge", "config-cache.json");

    /// <summary>The customer edge's configuration client's last good values (the status banner among them).</summary>
    public string EdgeConfigCache => Path.Combine(DataDirectory, "edge", "config-cache.json");

    public string DemoPopulation => Path.Combine(DataDirectory, "demo-population.json");

    public string CardsJournal => Path.Combine(DataDirectory, "cards-journal.db");

    /// <summary>The card processor's configuration cache (the last good stand-in limit); in a one-process bank, the process's one cache.</summary>
    public string CardsConfigCache => Path.Combine(DataDirectory, "cards", "config-cache.json");

    /// <summary>The coherence checker's configuration client's last good values (its own process in a cluster).</summary>
    public string CoherenceConfigCache => Path.Combine(DataDirectory, "coherence", "config-cache.json");

    /// <summary>
    /// Where the bank keeps its record of each clearing file it ingested: the file with every card
    /// number reduced to its last four digits (the full numbers never stay in the bank's data).
    /// </summary>
    public string ClearingReceived => Path.Combine(DataDirectory, "clearing");

    /// <summary>
    /// The scheme simulator's own directory in <c>bulwark run</c>: beside the data directory, not in it
    /// (<c>.bulwark-scheme</c> for <c>.bulwark</c>). The scheme is a peer outside the bank; its
    /// clearing files carry full card numbers, which the bank reads but does not keep.
    /// </summary>
    public string SchemeDirectory => Path.TrimEndingDirectorySeparator(Path.GetFullPath(DataDirectory)) + "-scheme";

    /// <summary>Where the scheme simulator of <c>bulwark run</c> writes its clearing files.</summary>
    public string SchemeClearing => Path.Combine(SchemeDirectory, "clearing");
}

/// <summary>
/// The whole bank in one process: every module of <see cref="BankModules"/>, each reached by the others
/// only through its gRPC contract over <c>bulwark:///</c> — the same path a cluster uses.
/// </summary>
public static class BankHost
{
    public static WebApplication Build(BankPaths paths, IPEndPoint publicEndpoint, LogLevel consoleLogLevel = LogLevel.Warning, string? ledgerPostgres = null, int cardLinkPort = 0,
        int? cells = null, IPEndPoint? staffEndpoint = null, IPEndPoint? operatorEndpoint = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        Bulwark.Platform.Security.PrivateFiles.CreateDirectory(paths.DataDirectory);
        var registry = new InMemoryServiceRegistry();
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
        {
            PublicEndpoint = publicEndpoint,
            // The staff edge's own port (any free one unless the command names it).
            StaffEndpoint = staffEndpoint ?? new IPEndPoint(IPAddress.Loopback, 0),
            // The staff edge's operator port (HTTP/2): the operator CLI's calls, through the operator gateway.
            OperatorEndpoint = operatorEndpoint ?? new IPEndPoint(IPAddress.Loopback, 0),
            ConsoleLogLevel = consoleLogLevel,
            Version = typeof(BankHost).Assembly.GetName().Version?.ToString() ?? "dev",
        }, registry);

        // A failed start is reported by the command in one line; the generic host would also log
        // it with the whole stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        // Every caller of the one-process bank is in the process: a call it abandons while it
        // stops (the workload's reads at Ctrl-C) is "the client reset the request stream", logged
        // by gRPC as an error with a stack trace, dozens of them at every stop. Services log
        // their own failures; this logger's errors here are only those.
        builder.Logging.AddFilter("Grpc.AspNetCore.Server.ServerCallHandler", LogLevel.Critical);

        var placement = BankLedger.EnsureMapAsync(paths, cells, ledgerPostgres is not null, CancellationToken.None).GetAwaiter().GetResult();
        // The command stops the bank (Ctrl-C reaches it through System.CommandLine's token) and
        // then prints its summary: the host must not stop itself on the same signal underneath
        // it, which raced the command's own orderly stop (warm-up calls to stopped services hung).
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, CommandLifetime>();
        var context = new ModuleContext(paths, ledgerPostgres, new IPEndPoint(IPAddress.Loopback, cardLinkPort)) { Placement = placement, EventsDirectory = paths.Events };
        foreach (var module in BankModules.All)
        {
            module.Add(builder.Services, context);
        }

        // The CLI's own seeder and workload are clients like any other.
        builder.Services.AddServiceClient("ledger", channel => new LedgerClient(channel));
        builder.Services.AddServiceClient("accounts", channel => new AccountsClient(channel));
        builder.Services.AddServiceClient("feed", channel => new FeedClient(channel));

        var app = builder.Build();
        app.UsePlatform();
        foreach (var module in BankModules.All)
        {
            module.Map(app);
        }
        return app;
    }
}

/// <summary>A host lifetime that leaves starting and stopping to the command that owns the host.</summary>
internal sealed class CommandLifetime : Microsoft.Extensions.Hosting.IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
