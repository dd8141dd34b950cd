using Bulwark.Cli.Hosting;
using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Etcd.Placement;
using Bulwark.Lab.Cluster;
using Bulwark.Ledger;
using Bulwark.Platform.Placement;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Cli.Cluster;

/// <summary>
/// The local cluster's placement map (docs/internals/cells.md, "Cells in a cluster"). etcd holds
/// it while the cluster runs (<c>/bulwark/placement/map</c>), but <c>cluster up</c> always starts a
/// new etcd cluster, so the map is also kept in the state directory (<c>STATE/placement.json</c>):
/// made at the first up, written into each new etcd at up, and read back from etcd at down (a
/// move changes it there). An existing cluster keeps its cells; <c>--cells</c> that disagrees is
/// refused, as <c>bulwark run</c> does.
/// </summary>
internal static class ClusterPlacement
{
    public const string FileName = "placement.json";

    /// <summary>Cells a new cluster gets unless <c>--cells</c> says otherwise: as many as <c>bulwark run</c>.</summary>
    public const int CellsDefault = BankLedger.CellsDefault;

    /// <summary>Most cells <c>--cells</c> accepts: each is a ledger process (and a database on PostgreSQL) on this one machine.</summary>
    public const int CellsMax = BankLedger.CellsMax;

    public static string PathIn(string stateDirectory) => Path.Combine(stateDirectory, FileName);

    /// <summary>Where the ledger's instances keep their SQLite files (every cell's, beside each other).</summary>
    public static BankPaths LedgerPaths(string stateDirectory) => new(Path.Combine(stateDirectory, "data", BankModules.Ledger));

    /// <summary>
    /// The cluster's map: the one kept in the state directory, else a new one (one cell when the
    /// ledger of a cluster from before cells exists, else <paramref name="cells"/>); the databases of
    /// its cells made on PostgreSQL; then stored in etcd. Throws <see cref="ClusterException"/> with a
    /// line for the operator when the kept map cannot be used or disagrees with <paramref name="cells"/>.
    /// </summary>
    public static async Task<PlacementMap> EnsureAsync(string stateDirectory, ClusterState state, int? cells, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        var file = new FilePlacementStore(PathIn(stateDirectory), TimeProvider.System);
        var map = await ReadKeptAsync(stateDirectory, cells, cancellationToken);
        var postgres = state.OnPostgres ? ConnectionString(state) : null;
        if (map is null)
        {
            PlacementMap created;
            try
            {
                created = await NewMapAsync(stateDirectory, postgres, cells, cancellationToken);
            }
            catch (InvalidOperationException exception)
            {
                throw new ClusterException(exception.Message);
            }
            map = (await file.CreateIfAbsentAsync(created, cancellationToken)).Map!;
        }
        if (postgres is not null)
        {
            try
            {
                await LedgerCellStores.EnsureDatabasesAsync(postgres, map.Cells.Keys, cancellationToken);
            }
            catch (Exception exception) when (exception is InvalidOperationException or Npgsql.NpgsqlException)
            {
                throw new ClusterException($"the ledger's cells could not start (PostgreSQL {Storage.Postgres.PostgresConnections.Describe(postgres)}): {exception.Message}");
            }
        }
        using var etcd = LocalEtcd.Connect(state);
        var stored = await new EtcdPlacementStore(etcd, TimeProvider.System, NullLogger<EtcdPlacementStore>.Instance).CreateIfAbsentAsync(map, cancellationToken);
        // The cells born at an earlier up are born in this new etcd too: else a store lost while
        // the cluster was down would be made again owning its partitions empty.
        var kept = new FileCellBirths(BirthsPathIn(stateDirectory));
        var births = new EtcdCellBirths(etcd);
        foreach (var cell in map.Cells.Keys.Where(cell => kept.Recorded(cell) == CellBirthClaim.Born))
        {
            await births.ConfirmAsync(cell, cancellationToken);
        }
        return stored.Map ?? throw new ClusterException($"the placement map in etcd cannot be used: {stored.Error?.Message}");
    }

    /// <summary>Where the cells' births are kept between ups (etcd is new at each): <c>STATE/placement-births.json</c>.</summary>
    public static string BirthsPathIn(string stateDirectory) => Path.Combine(stateDirectory, "placement-births.json");

    /// <summary>
    /// Records, once every instance of an up is healthy, that the cells of <paramref name="map"/>
    /// whose ledger process started were born (the process started on its store, so the store holds
    /// its identity): the next up tells its new etcd. A cell run with 0 instances is not recorded.
    /// </summary>
    public static async Task KeepBirthsAsync(string stateDirectory, PlacementMap map, ClusterState state, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(state);
        var kept = new FileCellBirths(BirthsPathIn(stateDirectory));
        var started = state.Instances.Where(instance => instance.Service == BankModules.Ledger).Select(instance => instance.Cell ?? "a").ToHashSet(StringComparer.Ordinal);
        foreach (var cell in map.Cells.Keys.Where(started.Contains))
        {
            await kept.ConfirmAsync(cell, cancellationToken);
        }
    }

    /// <summary>
    /// The map kept in the state directory, or null for a cluster that has none yet; refuses one
    /// that cannot be used or a <paramref name="cells"/> that disagrees with it (checked by up
    /// before it starts anything).
    /// </summary>
    public static async Task<PlacementMap?> ReadKeptAsync(string stateDirectory, int? cells, CancellationToken cancellationToken)
    {
        var file = new FilePlacementStore(PathIn(stateDirectory), TimeProvider.System);
        var kept = await file.ReadAsync(cancellationToken);
        if (kept is { Error: { } error })
        {
            throw new ClusterException($"the placement map {file.FilePath} cannot be used: {error.Message}");
        }
        if (kept?.Map is { } map && cells is { } asked && asked != map.Cells.Count)
        {
            throw new ClusterException(
                $"this cluster already has {map.Cells.Count} ledger cells ({string.Join(", ", map.Cells.Keys.Order(StringComparer.Ordinal))}); --cells {asked} cannot change that. Leave --cells out.");
        }
        return kept?.Map;
    }

    /// <summary>
    /// Keeps etcd's map in the state directory (before <c>down</c> stops etcd; before a check reads
    /// the cells): a move changes the map in etcd only. Waits for etcd's own answer, never for the
    /// copy a process keeps when etcd is slow (that copy may be older than a move). Nothing is
    /// written when etcd does not answer: the kept map stays, and <see cref="KeptMap.Unanswered"/> says why.
    /// </summary>
    public static async Task<KeptMap> KeepAsync(string stateDirectory, ClusterState state, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Members.Count == 0)
        {
            return new KeptMap(null, null);
        }
        using var etcd = LocalEtcd.Connect(state);
        var store = new PlacementSnapshotStore(
            new EtcdPlacementStore(etcd, TimeProvider.System, NullLogger<EtcdPlacementStore>.Instance), PathIn(stateDirectory), TimeProvider.System, NullLogger<PlacementSnapshotStore>.Instance);
        try
        {
            return new KeptMap((await store.ReadFromStoreAsync(cancellationToken))?.Map, null);
        }
        catch (EtcdUnavailableException unavailable)
        {
            return new KeptMap(null, unavailable.Message);
        }
    }

    /// <summary>What <see cref="KeepAsync"/> read from etcd (null: no map there, or etcd did not answer), and why etcd did not answer.</summary>
    public sealed record KeptMap(PlacementMap? Map, string? Unanswered);

    /// <summary>
    /// Every cell's store of the cluster in <paramref name="stateDirectory"/> (running or down), for
    /// <c>ledger check --state</c>: the cells of its map (read again from etcd while it runs), on
    /// SQLite or on the PostgreSQL of <paramref name="url"/> or of the running cluster. A cluster
    /// from before cells has no map: its one ledger is cell "a"'s store.
    /// </summary>
    public static async Task<IReadOnlyList<Ledger.LedgerCellSource>> CheckSourcesAsync(string stateDirectory, string? url, CancellationToken cancellationToken)
    {
        var state = ClusterState.Load(stateDirectory);
        if (state is not null && (await KeepAsync(stateDirectory, state, cancellationToken)).Unanswered is { } problem)
        {
            await WarnKeptMapUsedAsync(stateDirectory, problem);
        }
        var read = await new FilePlacementStore(PathIn(stateDirectory), TimeProvider.System).ReadAsync(cancellationToken);
        if (read is { Error: { } error })
        {
            throw new ClusterException($"the placement map {PathIn(stateDirectory)} cannot be used: {error.Message}");
        }
        url ??= state is { OnPostgres: true }
            ? state.StoreUrl ?? throw new ClusterException($"the password of {state.Store} is not known: pass --store with the full URL, or set {ClusterState.StoreVariable}.")
            : null;
        var postgres = url is null ? null : Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url);
        var cells = read?.Map?.Cells.Keys.Order(StringComparer.Ordinal).ToArray() ?? ["a"];
        var paths = LedgerPaths(stateDirectory);
        if (postgres is not null)
        {
            return [.. cells.Select(cell => Ledger.LedgerCellSource.Postgres(LedgerCellStores.PostgresConnectionString(postgres, cell)))];
        }
        if (state is null && read is null && !File.Exists(paths.Ledger))
        {
            throw new ClusterException($"no cluster in {stateDirectory} (no {ClusterState.FileName}, no {FileName}, no {paths.Ledger}).");
        }
        foreach (var cell in cells.Where(cell => !File.Exists(paths.LedgerCell(cell))))
        {
            throw new ClusterException($"cell '{cell}' has no store at {paths.LedgerCell(cell)} (on PostgreSQL? pass --store postgres://...).");
        }
        return [.. cells.Select(cell => Ledger.LedgerCellSource.Sqlite(paths.LedgerCell(cell)))];
    }

    /// <summary>Says on stderr that a running cluster's etcd did not answer and the kept map, which may be older than a move, is used instead.</summary>
    public static Task WarnKeptMapUsedAsync(string stateDirectory, string problem) =>
        Console.Error.WriteLineAsync($"warning: the cluster's etcd did not answer ({problem}): the placement map kept in {PathIn(stateDirectory)} is used, and it may be older than a move made since.");

    /// <summary>
    /// Where cell <paramref name="cell"/> of the local cluster in <paramref name="stateDirectory"/>
    /// keeps its ledger, as the map records it: its SQLite file's name, or its PostgreSQL database.
    /// </summary>
    public static string StoreOf(string stateDirectory, string cell)
    {
        var state = ClusterState.Load(stateDirectory) ?? throw new ClusterException($"no cluster in {stateDirectory}.");
        // The URL without its password (cluster.json's) names the database as well as the full one.
        return state.OnPostgres && (state.StoreUrl ?? state.Store) is { } url
            ? new Npgsql.NpgsqlConnectionStringBuilder(LedgerCellStores.PostgresConnectionString(Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url), cell)).Database!
            : Path.GetFileName(LedgerPaths(stateDirectory).LedgerCell(cell));
    }

    private static async Task<PlacementMap> NewMapAsync(string stateDirectory, string? postgres, int? cells, CancellationToken cancellationToken)
    {
        var paths = LedgerPaths(stateDirectory);
        bool legacy;
        try
        {
            legacy = postgres is null ? File.Exists(paths.Ledger) : await LedgerCellStores.PostgresLedgerExistsAsync(postgres, cancellationToken);
        }
        catch (Npgsql.NpgsqlException exception)
        {
            throw new ClusterException($"the ledger's cells could not start (PostgreSQL {Storage.Postgres.PostgresConnections.Describe(postgres!)}): {exception.Message}");
        }
        if (legacy && cells is > 1)
        {
            throw new ClusterException(postgres is null
                ? $"this cluster's ledger ({paths.Ledger}) was made before cells: it is one cell. Leave --cells out."
                : $"this cluster's ledger (database {new Npgsql.NpgsqlConnectionStringBuilder(postgres).Database}) was made before cells: it is one cell. Leave --cells out.");
        }
        var count = legacy ? 1 : cells ?? CellsDefault;
        var names = Enumerable.Range(0, count).Select(index => ((char)('a' + index)).ToString()).ToArray();
        var info = names.ToDictionary(name => name, name => new CellInfo(postgres is null
            ? Path.GetFileName(paths.LedgerCell(name))
            : new Npgsql.NpgsqlConnectionStringBuilder(LedgerCellStores.PostgresConnectionString(postgres, name)).Database), StringComparer.Ordinal);
        return PlacementMap.CreateInitial(Guid.NewGuid().ToString("D"), LedgerLimits.PartitionCountDefault, names, info);
    }

    private static string ConnectionString(ClusterState state)
    {
        var url = state.StoreUrl ?? throw new ClusterException(
            $"the password of {state.Store} is not known: set {ClusterState.StoreVariable} to the full URL and retry.");
        return Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url);
    }
}
