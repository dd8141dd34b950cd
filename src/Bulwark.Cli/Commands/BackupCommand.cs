using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Bulwark.Cli.Hosting;
using Bulwark.Ledger;
using Bulwark.Ledger.Backup;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Events;
using Bulwark.Platform.Placement;
using Bulwark.Platform.Security;
using Bulwark.Storage.Postgres;
using Microsoft.Data.Sqlite;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark backup</c> and <c>bulwark restore</c> for the embedded bank. A backup is taken online
/// (the bank keeps running) with SQLite's backup API, one consistent snapshot per database, the
/// ledger last so it holds every ledger account the other databases refer to; the ledger's cells
/// and their placement map are copied as they were at ONE moment (<see cref="LedgerCellsSnapshot"/>). Keys are NOT in it:
/// <c>bulwark backup keys</c> copies them into a backup of their own, kept apart (a stolen data
/// backup then gives no key: the tokens cannot be matched to card numbers, no token can be
/// signed), and <c>restore --keys</c> brings both together. A bank run with
/// <c>--store postgres://…</c> keeps its ledger, accounts and configuration in PostgreSQL: its backup adds one
/// <c>pg_dump</c> archive of those schemas (one snapshot of all, taken after the local files so
/// it holds every ledger account they name; its event log is copied after it, up to what that
/// snapshot holds), and its restore loads that archive into an empty database before the local
/// files go into place.
/// </summary>
internal static class BackupCommand
{
    public const string ManifestName = "backup-manifest.json";
    private const string LedgerFileName = "ledger.db";
    private const string PostgresArchiveName = "postgres.dump";
    private const string SqliteStore = "sqlite";
    private const string PostgresStore = "postgres";
    private const string LedgerSchema = "ledger";
    private const string KeysStore = "keys";
    private const string KeysDirectoryName = "keys";

    /// <summary>Times the cells are held again when the map read while holding them names other cells (one was just added).</summary>
    private const int CellsChangedAttemptsMax = 3;

    /// <summary>The PostgreSQL schemas a bank keeps: the ledger's, the accounts service's, the configuration service's and the support service's (staff and audit log).</summary>
    private static readonly string[] BankSchemas = ["accounts", "config", "ledger", "support"];

    public static Command CreateBackup()
    {
        var data = CommonOptions.Data();
        var to = new Option<DirectoryInfo>("--to") { Description = "New, empty directory to write the backup into.", Required = true };
        var store = CommonOptions.PostgresStore("The bank's PostgreSQL database when it runs with --store postgres://...: its ledger, accounts and config schemas are dumped (pg_dump, one snapshot) with the local files. Default: " + CommonOptions.StoreVariable + " when set. " + CommonOptions.StoreHelp);
        var command = new Command("backup", "Back up the bank while it runs: every database (consistent snapshots) and the demo population, verified by the ledger check. Keys are not in it: back them up apart with `bulwark backup keys`.")
        {
            data, to, store,
        };
        command.Subcommands.Add(CreateBackupKeys());
        command.SetAction(parse =>
        {
            PrivateFiles.RestrictNewFilesToOwner();
            // Like run and serve: --store, else BULWARK_STORE (a password stays off the command line).
            var url = parse.GetValue(store) ?? Environment.GetEnvironmentVariable(CommonOptions.StoreVariable);
            if (string.IsNullOrEmpty(url))
            {
                url = null;
            }
            else if (CommonOptions.PostgresConnectionString(parse.GetValue(store)) is { Error: { } bad })
            {
                Console.Error.WriteLine($"bulwark backup: {bad}");
                return 2;
            }
            return Guarded("backup", () => Backup(parse.GetValue(data)!, parse.GetValue(to)!, Console.Out, Console.Error, url));
        });
        return command;
    }

    private static Command CreateBackupKeys()
    {
        var data = CommonOptions.Data();
        var to = new Option<DirectoryInfo>("--to") { Description = "New, empty directory to write the key backup into; keep it apart from the data backups (another volume, another access list).", Required = true };
        var command = new Command("keys", "Back up the bank's keys (tokenisation, transfer id, token signing) on their own, apart from the data backups. Written owner-only (0700/0600).")
        {
            data, to,
        };
        command.SetAction(parse =>
        {
            PrivateFiles.RestrictNewFilesToOwner();
            return Guarded("backup keys", () => BackupKeys(parse.GetValue(data)!, parse.GetValue(to)!, Console.Out, Console.Error));
        });
        return command;
    }

    public static Command CreateRestore()
    {
        var data = CommonOptions.Data();
        var from = new Option<DirectoryInfo>("--from") { Description = "A directory written by `bulwark backup`.", Required = true };
        var keys = new Option<DirectoryInfo?>("--keys") { Description = "A directory written by `bulwark backup keys`: the keys to restore with the data (a data backup holds none)." };
        var store = CommonOptions.PostgresStore("For a backup of a bank on PostgreSQL: the empty database to restore its ledger and accounts into (postgres://...).");
        var command = new Command("restore", "Restore a backup and its keys into an empty data directory (and, for a bank on PostgreSQL, an empty database), after checking every file against the backups' manifests and the ledger's invariants. The bank must not be running on that directory.")
        {
            data, from, keys, store,
        };
        command.SetAction(parse =>
        {
            PrivateFiles.RestrictNewFilesToOwner();
            return Guarded("restore", () => Restore(parse.GetValue(from)!, parse.GetValue(data)!, Console.Out, Console.Error, parse.GetValue(store), parse.GetValue(keys)));
        });
        return command;
    }

    /// <summary>A file that cannot be read or written ends the command with one line naming it, exit 1.</summary>
    private static int Guarded(string name, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception error) when (error is SqliteException or IOException or UnauthorizedAccessException or Npgsql.NpgsqlException)
        {
            Console.Error.WriteLine($"bulwark {name}: {error.Message}");
            return 1;
        }
    }

    internal static int Backup(DirectoryInfo data, DirectoryInfo to, TextWriter output, TextWriter error, string? postgresUrl = null)
    {
        var postgres = postgresUrl is null ? null : PostgresConnections.ConnectionStringFromUrl(postgresUrl);
        if (postgres is null && !File.Exists(Path.Combine(data.FullName, LedgerFileName)))
        {
            error.WriteLine($"bulwark backup: no bank in {data.FullName} (no {LedgerFileName}). Pass --data DIR, and --store postgres://... for a bank on PostgreSQL.");
            return 2;
        }
        if (postgres is not null && !data.Exists)
        {
            error.WriteLine($"bulwark backup: no bank data in {data.FullName}: a bank on PostgreSQL still keeps its keys there. Pass --data DIR.");
            return 2;
        }
        if (to.Exists && to.EnumerateFileSystemInfos().Any())
        {
            error.WriteLine($"bulwark backup: --to {to.FullName} is not empty; a backup goes into a new or empty directory.");
            return 2;
        }
        IReadOnlyList<string> schemas = [];
        if (postgres is not null)
        {
            schemas = PostgresDump.ExistingSchemas(postgres, BankSchemas);
            if (!schemas.Contains(LedgerSchema))
            {
                error.WriteLine($"bulwark backup: no Bulwark ledger at {PostgresConnections.Describe(postgres)} (no schema '{LedgerSchema}'). Is --store the database the bank runs on?");
                return 2;
            }
        }
        var created = !to.Exists;
        PrivateFiles.CreateDirectory(to.FullName);
        var exit = 1;
        try
        {
            exit = Write(data, to, output, error, postgres, schemas);
            return exit;
        }
        finally
        {
            // A failed backup leaves nothing behind: a half-written one could be mistaken for a good one.
            if (exit != 0)
            {
                RemoveFailedBackup(to, created);
            }
        }
    }

    private static void RemoveFailedBackup(DirectoryInfo to, bool created)
    {
        to.Refresh();
        if (!to.Exists)
        {
            return;
        }
        if (created)
        {
            to.Delete(recursive: true);
            return;
        }
        foreach (var entry in to.EnumerateFileSystemInfos())
        {
            if (entry is DirectoryInfo directory)
            {
                directory.Delete(recursive: true);
            }
            else
            {
                entry.Delete();
            }
        }
    }

    private static int Write(DirectoryInfo data, DirectoryInfo to, TextWriter output, TextWriter error, string? postgres, IReadOnlyList<string> schemas)
    {
        var paths = new BankPaths(data.FullName);
        var cells = postgres is null ? CellFiles(paths) : [];
        // Other databases first, the ledger's cells last: they then hold every ledger account the others name.
        var databases = Directory.GetFiles(data.FullName, "*.db")
            .Where(path => !cells.Contains(path, StringComparer.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var source in databases)
        {
            try
            {
                BackupDatabase(source, Path.Combine(to.FullName, Path.GetFileName(source)));
            }
            catch (SqliteException failure)
            {
                throw new IOException($"cannot back up {source}: {failure.Message}", failure);
            }
        }
        var writersHeld = cells.Count > 0 ? CopyCellsAtOneMoment(paths, to.FullName, cells) : (TimeSpan?)null;
        var copiedWithTheCells = writersHeld is null ? "" : Path.GetFileName(paths.Placement);
        var logTarget = Path.Combine(to.FullName, Path.GetFileName(paths.Events));
        var log = writersHeld is not null && Directory.Exists(paths.Events)
            ? CopyLogAsTheCellsHoldIt(paths.Events, logTarget, HeldBy([.. cells.Select(cell => Path.Combine(to.FullName, Path.GetFileName(cell)))]))
            : ((long Copied, long LeftOut)?)null;
        // A bank on PostgreSQL: its log is copied after the dump, as the dump holds it (below).
        var logAfterTheDump = postgres is not null && Directory.Exists(paths.Events);
        foreach (var file in PlainFiles(data.FullName).Where(file => Path.GetRelativePath(data.FullName, file) != copiedWithTheCells
            && !((log is not null || logAfterTheDump) && IsWithin(file, paths.Events))))
        {
            var target = Path.Combine(to.FullName, Path.GetRelativePath(data.FullName, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        LedgerCheckReport check;
        PlacementConsistencyReport? placement = null;
        var takenFrom = data.FullName;
        if (postgres is null)
        {
            // The cells and their map are one moment's: nothing to repair, and nothing may be.
            var copy = new BankPaths(to.FullName);
            check = BankLedger.Check(copy);
            placement = BankLedger.CheckPlacement(copy);
        }
        else
        {
            // After the local files: the snapshot then holds every ledger account they name.
            var archive = Path.Combine(to.FullName, PostgresArchiveName);
            // The dump is one snapshot, exported and read for each partition's last event number
            // first, so that the log is copied up to exactly what the dump holds: copied before it,
            // the log lacked events the dump held (gone from the log for good once the outbox was
            // pruned); copied whole after it, it would hold events the restored ledger never committed.
            var inTheDump = LedgerCellRows.ReadPartitionSequences(postgres, snapshot => PostgresDump.Dump(postgres, schemas, archive, snapshot));
            if (PostgresDump.ListContents(archive).Count == 0)
            {
                throw new IOException($"{archive} lists nothing (pg_restore --list); the dump is not usable.");
            }
            if (logAfterTheDump)
            {
                log = CopyLogAsTheCellsHoldIt(paths.Events, logTarget, inTheDump);
            }
            // The archive itself is one consistent snapshot; the check proves the ledger it was taken from is sound.
            check = LedgerChecker.CheckPostgres(postgres);
            takenFrom = $"{data.FullName} + {PostgresConnections.Describe(postgres)}";
        }
        if (!check.Ok)
        {
            error.WriteLine($"bulwark backup: the backup in {to.FullName} fails the ledger check; do not rely on it.");
            error.WriteLine(LedgerCommand.Describe(check));
            return 1;
        }
        if (placement is { Ok: false })
        {
            error.WriteLine($"bulwark backup: the placement map in {to.FullName} disagrees with its cells; do not rely on it. Run `bulwark ledger check` on the bank.");
            LedgerCommand.WriteIssues(placement, error);
            return 1;
        }
        if (placement is not null)
        {
            LedgerCommand.WriteIssues(placement, error);
        }
        RefuseChangesOutsideTheDatabaseFiles(to.FullName);
        var manifest = new BackupManifest(DateTimeOffset.UtcNow, takenFrom, Describe(to.FullName), postgres is null ? SqliteStore : PostgresStore, [.. schemas]) { KeysApart = true };
        File.WriteAllText(Path.Combine(to.FullName, ManifestName), JsonSerializer.Serialize(manifest, BackupJsonContext.Default.BackupManifest));
        var what = postgres is null ? "" : $" (PostgreSQL schemas {string.Join(", ", schemas)} in {PostgresArchiveName})";
        var moment = writersHeld is { } held
            ? string.Create(CultureInfo.InvariantCulture, $"; {cells.Count} ledger cells and their map copied at one moment (writers held {held.TotalMilliseconds:0} ms)")
            : "";
        if (log is { } events)
        {
            moment += string.Create(CultureInfo.InvariantCulture, $"; event log copied as the cells hold it ({events.Copied} records, {events.LeftOut} newer left out)");
        }
        output.WriteLine($"backup ok: {manifest.Files.Count} files in {to.FullName}{what}, no keys (back them up apart: bulwark backup keys); {LedgerCommand.Describe(check)}{moment}");
        return 0;
    }

    /// <summary>The ledger's cells: those of the bank's placement map, or <c>ledger.db</c> alone for a bank from before cells.</summary>
    private static List<string> CellFiles(BankPaths paths)
    {
        PlacementMap? map;
        try
        {
            map = BankLedger.ReadMap(paths);
        }
        catch (PlacementMapException problem)
        {
            throw new IOException($"cannot back up {paths.Placement}: {problem.Message}", problem);
        }
        return CellFiles(paths, map);
    }

    private static List<string> CellFiles(BankPaths paths, PlacementMap? map) => map is null
        ? [paths.Ledger]
        : [.. map.Cells.Keys.Select(paths.LedgerCell).Select(Path.GetFullPath).Order(StringComparer.Ordinal)];

    /// <summary>
    /// Copies every cell, and the placement map read while no cell can commit, as they were at one
    /// moment (<see cref="LedgerCellsSnapshot"/>). Returns how long the bank's writers were held.
    /// </summary>
    private static TimeSpan CopyCellsAtOneMoment(BankPaths paths, string to, List<string> cells)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (snapshot, map) = LedgerCellsSnapshot.Take(cells, () => File.Exists(paths.Placement) ? File.ReadAllBytes(paths.Placement) : null);
            using (snapshot)
            {
                if (map is not null && !CellFiles(paths, Decode(paths, map)).SequenceEqual(cells, StringComparer.Ordinal))
                {
                    // A cell was added between reading the map and holding the cells: hold them all again.
                    if (attempt >= CellsChangedAttemptsMax)
                    {
                        throw new IOException($"cannot back up the ledger: its cells kept changing ({paths.Placement}). Try again.");
                    }
                    cells = CellFiles(paths, Decode(paths, map));
                    continue;
                }
                foreach (var cell in cells)
                {
                    try
                    {
                        snapshot.CopyTo(cell, Path.Combine(to, Path.GetFileName(cell)));
                    }
                    catch (SqliteException failure)
                    {
                        throw new IOException($"cannot back up {cell}: {failure.Message}", failure);
                    }
                }
                if (map is not null)
                {
                    File.WriteAllBytes(Path.Combine(to, Path.GetFileName(paths.Placement)), map);
                }
                return snapshot.WritersHeld;
            }
        }
    }

    /// <summary>
    /// Copies the event log up to what the copied cells hold, partition by partition: each
    /// partition's records up to the last event number any copied cell gave it. The log is read
    /// after the cells were copied, while the bank goes on appending: copied whole, it would hold
    /// events the restored cells never committed, and the restored bank, numbering its next events
    /// from its own store, would write different events at those places — a conflict that stops
    /// its relay for good. What the cells hold and the log does not yet (the relay behind) the
    /// restored bank publishes from its outbox. Returns the records copied and those left out.
    /// </summary>
    private static (long Copied, long LeftOut) CopyLogAsTheCellsHoldIt(string from, string to, IReadOnlyDictionary<int, long> held) =>
        Task.Run(async () =>
        {
            long copied = 0;
            long leftOut = 0;
            await using (var source = EventLog.Files.FileEventLog.OpenSnapshot(from))
            await using (var target = EventLog.Files.FileEventLog.Open(new EventLog.Files.FileEventLogOptions { Directory = to }))
            {
                var batch = new List<EventLog.EventRecord>();
                foreach (var partition in source.Partitions)
                {
                    var last = held.GetValueOrDefault(partition);
                    await foreach (var record in source.ReadAsync(partition))
                    {
                        if (record.Sequence > last)
                        {
                            leftOut++;
                            continue;
                        }
                        batch.Add(record);
                        if (batch.Count == EventLog.EventLogLimits.AppendRecordsMax)
                        {
                            copied += (await target.AppendAsync(batch)).Appended;
                            batch.Clear();
                        }
                    }
                }
                if (batch.Count > 0)
                {
                    copied += (await target.AppendAsync(batch)).Appended;
                }
            }
            // The restored bank takes its own lock on the log.
            File.Delete(Path.Combine(to, "LOCK"));
            return (copied, leftOut);
        }).GetAwaiter().GetResult();

    /// <summary>The last event number any of the copied SQLite cells gave each partition.</summary>
    private static Dictionary<int, long> HeldBy(IReadOnlyList<string> copiedCells)
    {
        var held = new Dictionary<int, long>();
        foreach (var cell in copiedCells)
        {
            foreach (var (partition, sequence) in LedgerCellRows.ReadPartitionSequences(cell))
            {
                held[partition] = Math.Max(sequence, held.GetValueOrDefault(partition));
            }
        }
        return held;
    }

    private static PlacementMap Decode(BankPaths paths, byte[] map)
    {
        try
        {
            return PlacementMapCodec.Decode(map);
        }
        catch (PlacementMapException problem)
        {
            throw new IOException($"cannot back up {paths.Placement}: {problem.Message}", problem);
        }
    }

    /// <summary>
    /// The manifest lists and hashes the database files alone, and a restore copies only those: a
    /// copy with commits still in its -wal (as the cell repair left them before it checkpointed)
    /// would restore without them, or, checkpointed later, no longer match its manifest.
    /// </summary>
    internal static void RefuseChangesOutsideTheDatabaseFiles(string backup)
    {
        foreach (var database in Directory.GetFiles(backup, "*.db", SearchOption.AllDirectories))
        {
            var log = new FileInfo(database + "-wal");
            if (log.Exists && log.Length > 0)
            {
                throw new IOException($"{database} has changes in {log.Name} that are not in the file; the backup would restore without them.");
            }
        }
    }

    /// <summary>Copies the key files (<see cref="IsKey"/>) into a backup of their own with its manifest.</summary>
    internal static int BackupKeys(DirectoryInfo data, DirectoryInfo to, TextWriter output, TextWriter error)
    {
        var keys = data.Exists ? KeyFiles(data.FullName).ToList() : [];
        if (keys.Count == 0)
        {
            error.WriteLine($"bulwark backup keys: no key files in {Path.Combine(data.FullName, KeysDirectoryName)}. Pass --data DIR of the bank whose keys to back up.");
            return 2;
        }
        if (to.Exists && to.EnumerateFileSystemInfos().Any())
        {
            error.WriteLine($"bulwark backup keys: --to {to.FullName} is not empty; a key backup goes into a new or empty directory.");
            return 2;
        }
        if (IsWithin(to.FullName, data.FullName))
        {
            error.WriteLine($"bulwark backup keys: --to {to.FullName} is inside the data directory; keep the keys apart from the data.");
            return 2;
        }
        var created = !to.Exists;
        PrivateFiles.CreateDirectory(to.FullName);
        var exit = 1;
        try
        {
            foreach (var key in keys)
            {
                var target = Path.Combine(to.FullName, Path.GetRelativePath(data.FullName, key));
                PrivateFiles.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(key, target);
            }
            var manifest = new BackupManifest(DateTimeOffset.UtcNow, data.FullName, Describe(to.FullName), KeysStore);
            File.WriteAllText(Path.Combine(to.FullName, ManifestName), JsonSerializer.Serialize(manifest, BackupJsonContext.Default.BackupManifest));
            output.WriteLine($"keys backup ok: {manifest.Files.Count} key files in {to.FullName}; keep it apart from the data backups, as you keep keys.");
            exit = 0;
            return exit;
        }
        finally
        {
            if (exit != 0)
            {
                RemoveFailedBackup(to, created);
            }
        }
    }

    private static bool IsWithin(string path, string directory) =>
        Path.GetRelativePath(directory, path) is var relative && relative != ".." && !relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) && !Path.IsPathRooted(relative);

    internal static int Restore(DirectoryInfo from, DirectoryInfo data, TextWriter output, TextWriter error, string? postgresUrl = null, DirectoryInfo? keysFrom = null)
    {
        if (!File.Exists(Path.Combine(from.FullName, ManifestName)))
        {
            error.WriteLine($"bulwark restore: {from.FullName} is not a backup (no {ManifestName}).");
            return 2;
        }
        if (data.Exists && data.EnumerateFileSystemInfos().Any())
        {
            error.WriteLine($"bulwark restore: --data {data.FullName} is not empty. Stop the bank, move that directory aside, and restore into an empty one.");
            return 2;
        }
        if (ReadVerified(from, error) is not { } manifest)
        {
            return 1;
        }
        var files = manifest.Files;
        if (manifest.Store == KeysStore)
        {
            error.WriteLine($"bulwark restore: {from.FullName} is a key backup; pass it as --keys, with --from naming the data backup.");
            return 2;
        }
        if (KeysToRestore(manifest, from, keysFrom, error, out var keys) is var refused and not 0)
        {
            return refused;
        }
        var onPostgres = manifest.Store == PostgresStore;
        if (onPostgres && postgresUrl is null)
        {
            error.WriteLine($"bulwark restore: {from.FullName} is a backup of a bank on PostgreSQL; pass --store postgres://... naming an empty database to restore its ledger and accounts into.");
            return 2;
        }
        if (!onPostgres && postgresUrl is not null)
        {
            error.WriteLine($"bulwark restore: {from.FullName} is a backup of an embedded (SQLite) bank; restore it without --store.");
            return 2;
        }
        var postgres = postgresUrl is null ? null : PostgresConnections.ConnectionStringFromUrl(postgresUrl);
        LedgerCheckReport? check = null;
        if (postgres is null)
        {
            check = BankLedger.Check(new BankPaths(from.FullName));
            if (!check.Ok)
            {
                error.WriteLine($"bulwark restore: the backup's ledger fails its check; refusing to restore it.");
                error.WriteLine(LedgerCommand.Describe(check));
                return 1;
            }
            // A map older than what its cells have seen must never be obeyed (backups taken before
            // the cells were copied at one moment read the map at another).
            if (BankLedger.CheckPlacement(new BankPaths(from.FullName)) is { } placement)
            {
                if (!placement.Ok)
                {
                    error.WriteLine($"bulwark restore: the backup's placement map ({Path.GetFileName(new BankPaths(from.FullName).Placement)}) disagrees with its cells; refusing to restore it.");
                    LedgerCommand.WriteIssues(placement, error);
                    return 1;
                }
                LedgerCommand.WriteIssues(placement, error);
            }
        }
        else if (PostgresDump.ExistingSchemas(postgres, manifest.Schemas ?? BankSchemas) is { Count: > 0 } taken)
        {
            error.WriteLine($"bulwark restore: {PostgresConnections.Describe(postgres)} already holds schema(s) {string.Join(", ", taken)}; restore into an empty database (CREATE DATABASE ...) and point the bank at it.");
            return 2;
        }

        // Copy into a sibling directory first and rename it into place, so a failure half-way
        // never leaves a half-restored bank at --data.
        var staging = data.FullName.TrimEnd(Path.DirectorySeparatorChar) + ".restoring-" + Guid.NewGuid().ToString("n")[..8];
        var local = files.Where(file => file.Path != PostgresArchiveName).Select(file => (Source: from.FullName, file.Path))
            .Concat(keys.Select(file => (Source: keysFrom!.FullName, file.Path)));
        foreach (var (source, path) in local)
        {
            var target = Path.Combine(staging, path);
            PrivateFiles.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(source, path), target);
        }
        if (postgres is not null)
        {
            try
            {
                // One transaction: a failure leaves the database as empty as it was.
                PostgresDump.Restore(postgres, Path.Combine(from.FullName, PostgresArchiveName));
            }
            catch (IOException)
            {
                Directory.Delete(staging, recursive: true);
                throw;
            }
            check = LedgerChecker.CheckPostgres(postgres);
            if (!check.Ok)
            {
                Directory.Delete(staging, recursive: true);
                error.WriteLine($"bulwark restore: the ledger restored into {PostgresConnections.Describe(postgres)} fails its check; do not start a bank on it (drop that database).");
                error.WriteLine(LedgerCommand.Describe(check));
                return 1;
            }
        }
        if (data.Exists)
        {
            data.Delete();
        }
        Directory.Move(staging, data.FullName);
        var into = postgres is null ? data.FullName : $"{data.FullName} and {PostgresConnections.Describe(postgres)}";
        var withKeys = keysFrom is null ? "" : $" and {keys.Count} key files from {keysFrom.FullName}";
        output.WriteLine($"restore ok: {files.Count} files from {from.FullName}{withKeys} into {into} (backup taken {manifest.TakenAt:u}); {LedgerCommand.Describe(check!)}");
        return 0;
    }

    /// <summary>
    /// The key files to restore with the backup: none for an older backup that holds its keys, else
    /// those of the key backup at <paramref name="keysFrom"/>, checked against its manifest. Returns 0,
    /// or the exit code after saying why on <paramref name="error"/>.
    /// </summary>
    private static int KeysToRestore(BackupManifest manifest, DirectoryInfo from, DirectoryInfo? keysFrom, TextWriter error, out IReadOnlyList<BackupFile> keys)
    {
        keys = [];
        if (manifest.KeysApart && keysFrom is null)
        {
            error.WriteLine($"bulwark restore: {from.FullName} holds no keys (they are backed up apart, by `bulwark backup keys`); pass --keys DIR naming that key backup.");
            return 2;
        }
        if (keysFrom is null)
        {
            return 0;
        }
        if (!manifest.KeysApart)
        {
            error.WriteLine($"bulwark restore: {from.FullName} was taken with its keys in it; restore it without --keys.");
            return 2;
        }
        if (!File.Exists(Path.Combine(keysFrom.FullName, ManifestName)))
        {
            error.WriteLine($"bulwark restore: --keys {keysFrom.FullName} is not a key backup (no {ManifestName}).");
            return 2;
        }
        if (ReadVerified(keysFrom, error) is not { } keysManifest)
        {
            return 1;
        }
        if (keysManifest.Store != KeysStore || keysManifest.Files.Any(file => !IsKey(file.Path)))
        {
            error.WriteLine($"bulwark restore: --keys {keysFrom.FullName} is not a key backup (written by `bulwark backup keys`).");
            return 2;
        }
        keys = keysManifest.Files;
        return 0;
    }

    /// <summary>The backup's manifest, every file in it checked (size and SHA-256); null after saying why on <paramref name="error"/>.</summary>
    private static BackupManifest? ReadVerified(DirectoryInfo from, TextWriter error)
    {
        var manifestPath = Path.Combine(from.FullName, ManifestName);
        BackupManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(File.ReadAllText(manifestPath), BackupJsonContext.Default.BackupManifest);
        }
        catch (JsonException problem)
        {
            error.WriteLine($"bulwark restore: {manifestPath} is not a valid manifest: {problem.Message}");
            return null;
        }
        if (manifest?.Files is not { Count: > 0 } files || files.Any(f => f.Path is null || f.Sha256 is null || Path.IsPathRooted(f.Path) || f.Path.Split('/').Contains("..")))
        {
            error.WriteLine($"bulwark restore: {manifestPath} lists no files or a file outside the backup.");
            return null;
        }
        var actual = Describe(from.FullName).ToDictionary(f => f.Path, StringComparer.Ordinal);
        foreach (var expected in files)
        {
            if (!actual.TryGetValue(expected.Path, out var found))
            {
                error.WriteLine($"bulwark restore: {expected.Path} is listed in the manifest but missing from the backup.");
                return null;
            }
            if (found.Sha256 != expected.Sha256 || found.Bytes != expected.Bytes)
            {
                error.WriteLine($"bulwark restore: {expected.Path} does not match the manifest (changed or damaged since the backup).");
                return null;
            }
        }
        return manifest;
    }

    /// <summary>Key files: everything under <c>keys/</c> (tokenisation, transfer id and signing keys) and any <c>*.key</c>.</summary>
    private static bool IsKey(string relativePath) =>
        relativePath.StartsWith(KeysDirectoryName + "/", StringComparison.Ordinal)
        || relativePath.StartsWith(KeysDirectoryName + Path.DirectorySeparatorChar, StringComparison.Ordinal)
        || relativePath.EndsWith(".key", StringComparison.Ordinal);

    private static IEnumerable<string> KeyFiles(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(path => IsKey(Path.GetRelativePath(directory, path)) && !path.EndsWith(".tmp", StringComparison.Ordinal))
            .OrderBy(path => path, StringComparer.Ordinal);

    private static void BackupDatabase(string source, string target)
    {
        using var from = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = source, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        using var to = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Pooling = false }.ToString());
        from.Open();
        to.Open();
        from.BackupDatabase(to);
    }

    /// <summary>
    /// Small state files: everything but the databases and their WAL and shared-memory files, the
    /// keys (<see cref="IsKey"/>: backed up apart by <c>bulwark backup keys</c>), and lock files (<see cref="BankLock.FileName"/>, a ledger store's
    /// <c>ledger.db.lock</c> and the <c>ledger.db.pid</c> of its writer): a running bank holds its locks exclusively, so
    /// they cannot be read, and a restored bank takes fresh ones — the event log's <c>events/LOCK</c> too.
    /// The event log is not copied from here but record by record, up to what the copied cells hold
    /// (<see cref="CopyLogAsTheCellsHoldIt"/>): the SQLite cells copied at one moment, or the
    /// PostgreSQL snapshot the dump was taken at.
    /// </summary>
    private static IEnumerable<string> PlainFiles(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(path => Path.GetRelativePath(directory, path) is var relative
                && !relative.EndsWith(".db", StringComparison.Ordinal)
                && !relative.EndsWith(".db-wal", StringComparison.Ordinal)
                && !relative.EndsWith(".db-shm", StringComparison.Ordinal)
                && !relative.EndsWith(".tmp", StringComparison.Ordinal)
                && !relative.EndsWith(".lock", StringComparison.Ordinal)
                && !relative.EndsWith(".db.pid", StringComparison.Ordinal)
                && relative != Path.Combine("events", "LOCK")
                && relative != ManifestName
                && !IsKey(relative)
                && !relative.StartsWith("logs", StringComparison.Ordinal))
            .OrderBy(path => path, StringComparer.Ordinal);

    private static List<BackupFile> Describe(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(path => Path.GetFileName(path) != ManifestName
                && !path.EndsWith("-wal", StringComparison.Ordinal)
                && !path.EndsWith("-shm", StringComparison.Ordinal))
            .Select(path =>
            {
                using var stream = File.OpenRead(path);
                var hash = Convert.ToHexStringLower(SHA256.HashData(stream));
                return new BackupFile(Path.GetRelativePath(directory, path).Replace('\\', '/'), stream.Length, hash);
            })
            .OrderBy(file => file.Path, StringComparer.Ordinal)
            .ToList();
}

internal sealed record BackupFile(string Path, long Bytes, string Sha256);

/// <param name="Store">keys (a key backup), sqlite (everything in the files) or postgres (ledger and accounts in <c>postgres.dump</c>); absent in older manifests, meaning sqlite.</param>
/// <param name="Schemas">The PostgreSQL schemas in the archive.</param>
internal sealed record BackupManifest(DateTimeOffset TakenAt, string Source, IReadOnlyList<BackupFile> Files, string? Store = null, IReadOnlyList<string>? Schemas = null)
{
    /// <summary>True when the keys were left out (backed up apart by <c>bulwark backup keys</c>); false in older backups, which hold them.</summary>
    public bool KeysApart { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(BackupManifest))]
internal sealed partial class BackupJsonContext : JsonSerializerContext;
