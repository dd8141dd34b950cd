using System.Net;
using Bulwark.Cli.Commands;
using Bulwark.Cli.Demo;
using Bulwark.Cli.Hosting;
using Bulwark.Cli.Workload;
using Bulwark.Lab.Postgres;
using Bulwark.Ledger;
using Bulwark.Storage.Postgres;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using static Bulwark.Cli.Tests.TestPorts;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cli.Tests;

public sealed class BackupCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "bulwark-backup-" + Guid.NewGuid().ToString("n"));

    private string Bank => Path.Combine(_root, "bank");

    private string BackupDir => Path.Combine(_root, "backup");

    private string Restored => Path.Combine(_root, "restored");

    private string KeysBackup => Path.Combine(_root, "keys-backup");

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Backup_WhileBankRunsUnderLoad_RestoresToAWorkingBank()
    {
        var cancellation = new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;
        var paths = new BankPaths(Bank);
        string customerId;
        await using (var app = BankHost.Build(paths, new IPEndPoint(IPAddress.Loopback, 0)))
        {
            await app.StartAsync(cancellation);
            var population = await new DemoSeeder(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<LedgerClient>(), TextWriter.Null)
                .SeedAsync(5, seed: 3, cancellation);
            population.Save(paths.DemoPopulation);
            customerId = population.Customers[0].CustomerId;

            // The backup is taken while payments and pot moves keep committing.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            var workload = new BankWorkload(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<FeedClient>(), app.Services.GetRequiredService<LedgerClient>(), population, seed: 3);
            var running = workload.RunAsync(100, stop.Token);
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellation);
            var output = new StringWriter();
            var exit = BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), output, output);
            await stop.CancelAsync();
            await running;
            await app.StopAsync(cancellation);

            Assert.True(exit == 0, output.ToString());
            Assert.StartsWith("backup ok:", output.ToString(), StringComparison.Ordinal);
        }
        var keysOutput = new StringWriter();
        Assert.True(BackupCommand.BackupKeys(new DirectoryInfo(Bank), new DirectoryInfo(KeysBackup), keysOutput, keysOutput) == 0, keysOutput.ToString());
        Assert.True(File.Exists(Path.Combine(BackupDir, "accounts.db")));
        AssertHoldsNoKey(BackupDir);
        Assert.True(File.Exists(Path.Combine(KeysBackup, "keys", "tokenisation.key")));

        var restoreOutput = new StringWriter();
        Assert.True(BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), restoreOutput, restoreOutput, keysFrom: new DirectoryInfo(KeysBackup)) == 0, restoreOutput.ToString());
        Assert.True(BankLedger.Check(new BankPaths(Restored)).Ok);
        foreach (var key in Directory.GetFiles(Path.Combine(Bank, "keys")))
        {
            Assert.Equal(await File.ReadAllBytesAsync(key, cancellation), await File.ReadAllBytesAsync(Path.Combine(Restored, "keys", Path.GetFileName(key)), cancellation));
        }

        // The restored bank starts and knows the customers, their cards' key and their balances.
        await using (var app = BankHost.Build(new BankPaths(Restored), new IPEndPoint(IPAddress.Loopback, 0)))
        {
            await app.StartAsync(cancellation);
            var accounts = app.Services.GetRequiredService<AccountsClient>();
            var listed = await accounts.ListAccountsAsync(new Bulwark.Accounts.Protos.ListAccountsRequest { CustomerId = customerId }, cancellationToken: cancellation);
            Assert.NotEmpty(listed.Accounts);
            await app.StopAsync(cancellation);
        }
    }

    [Fact]
    public async Task Backup_RealBankProcessUnderLoad_RestoredBankStartsWithTheBackupsBalancesAndChecksOk()
    {
        // A real `bulwark run` with its default workload (payments, pot moves, income, feed reads at
        // 200/s). Card traffic off: the bank's stand-in journal then holds nothing for the restored
        // bank to post at its start, so its balances must equal the backup's exactly.
        using var bank = BulwarkProcess.Start("run", "--data", Bank, "--port", "0", "--customers", "20", "--card-rate", "0");
        // Drained while the test reads stdout: a full stderr pipe would block the bank's logging, and the bank with it.
        var errors = bank.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        (int ExitCode, string Output, string Error) backup;
        (int ExitCode, string Output, string Error) keys;
        try
        {
            await BulwarkProcess.ReadUntilAsync(bank, lines, line => line.StartsWith("Running at", StringComparison.Ordinal), errors);
            await Task.Delay(TimeSpan.FromSeconds(2));
            // Several backups under the same cross-cell load: each must check ok (copied one cell
            // after another, a transfer debited in b after b's copy and delivered to a before a's
            // left a credit leg without its debit leg, and the backup failed now and then).
            for (var earlier = 1; earlier < BackupsUnderLoad; earlier++)
            {
                var taken = await BulwarkProcess.RunAsync("backup", "--data", Bank, "--to", BackupDir + "-" + earlier);
                Assert.True(taken.ExitCode == 0, $"backup {earlier}: {taken.Output}{taken.Error}");
                Assert.Contains("ledger cells and their map copied at one moment", taken.Output, StringComparison.Ordinal);
            }
            backup = await BulwarkProcess.RunAsync("backup", "--data", Bank, "--to", BackupDir);
            keys = await BulwarkProcess.RunAsync("backup", "keys", "--data", Bank, "--to", KeysBackup);
            // Still under load after the backup: the live ledger moves on past the snapshot.
            await Task.Delay(TimeSpan.FromSeconds(1));
            await BulwarkProcess.SignalAsync(bank.Id, "INT");
            await BulwarkProcess.ReadUntilAsync(bank, lines, line => line.StartsWith("ledger ", StringComparison.Ordinal), errors);
            using var exited = new CancellationTokenSource(BulwarkProcess.Bound);
            await bank.WaitForExitAsync(exited.Token);
        }
        finally
        {
            if (!bank.HasExited)
            {
                bank.Kill(entireProcessTree: true);
            }
        }
        Assert.True(backup.ExitCode == 0, backup.Output + backup.Error);
        Assert.StartsWith("backup ok:", backup.Output, StringComparison.Ordinal);
        Assert.True(keys.ExitCode == 0, keys.Output + keys.Error);
        AssertHoldsNoKey(BackupDir);
        // The backup's balances, plus the credit legs it still owes between cells and no copy holds:
        // the restored bank delivers those at its start (a leg delivered between two cells' copies is
        // owed again in the copy); one owed in one copy but already in the other is answered duplicate.
        var atBackup = BalancesAfterOwedLegs(BackupDir);
        Assert.True(BankLedger.Check(new BankPaths(Bank)).TransferCount > BankLedger.Check(new BankPaths(BackupDir)).TransferCount, "no transfer committed after the backup: the bank was not under load");

        var restore = await BulwarkProcess.RunAsync("restore", "--from", BackupDir, "--keys", KeysBackup, "--data", Restored);
        Assert.True(restore.ExitCode == 0, restore.Output + restore.Error);
        // Long enough for the credit legs the backup owes between cells to be delivered: the first
        // delivery may wait for the cells to register (back-off from 100 ms), then settles at once.
        var restarted = await BulwarkProcess.RunAsync("run", "--data", Restored, "--port", "0", "--no-workload", "--for", "8s");
        var check = await BulwarkProcess.RunAsync("ledger", "check", "--data", Restored);
        // The backup's log ends where its cells end: the restored bank's events (the legs it
        // delivered, the coherence checker's) follow on in the log, never in conflict with it.
        var verified = new List<(int ExitCode, string Output, string Error)>();
        foreach (var cell in new[] { "a", "b" })
        {
            verified.Add(await BulwarkProcess.RunAsync("ledger", "verify", "--data", Restored, "--cell", cell));
        }
        Assert.Contains("event log copied as the cells hold it", backup.Output, StringComparison.Ordinal);
        Assert.All(verified, result => Assert.True(result.ExitCode == 0, result.Output + result.Error));

        Assert.True(restarted.ExitCode == 0, restarted.Output + restarted.Error);
        Assert.Contains("Demo login: ", restarted.Output, StringComparison.Ordinal);
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.StartsWith("ledger ok:", check.Output, StringComparison.Ordinal);
        Assert.True(OwedLegs(Restored).Count == 0, $"the restored bank still owes credit legs {string.Join(", ", OwedLegs(Restored))} after its run");
        Assert.Equal(atBackup, Render(Balances(Restored)));
    }

    /// <summary>Backups taken one after another under load in the real-bank test, the last one restored.</summary>
    private const int BackupsUnderLoad = 3;

    /// <summary>Every ledger account's balances (but the coherence checker's) in every cell of the bank in <paramref name="directory"/>, by id (hex).</summary>
    private static SortedDictionary<string, long[]> Balances(string directory)
    {
        var balances = new SortedDictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var cell in Directory.GetFiles(directory, "ledger*.db"))
        {
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={cell};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            // Not the coherence checker's synthetic accounts: it keeps writing to them in the restored bank.
            command.CommandText = "SELECT hex(id), debits_pending, debits_posted, credits_pending, credits_posted FROM accounts " +
                $"WHERE code NOT IN ({Bulwark.Coherence.Synthetic.SyntheticAccounts.ProbeCode}, {Bulwark.Coherence.Synthetic.SyntheticAccounts.FundingCode})";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                balances[reader.GetString(0)] = [reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)];
            }
        }
        return balances;
    }

    /// <summary>
    /// The balances once every credit leg the cells owe each other is delivered: the credit account
    /// credited, its partition's transit debited. Only legs whose credit row no cell holds: at the
    /// backup's moment a leg may be written in the credit cell and not yet settled in the debit
    /// cell. Its amount is then already in the credit cell's balances, and the restored bank's
    /// redelivery is answered duplicate and moves nothing: adding it again expected the money twice.
    /// </summary>
    private static List<string> BalancesAfterOwedLegs(string directory)
    {
        var balances = Balances(directory);
        var credited = CreditLegs(directory);
        foreach (var cell in Directory.GetFiles(directory, "ledger*.db"))
        {
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={cell};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT hex(id), hex(credit_account_id), credit_partition, currency, amount FROM credit_legs_owed WHERE state = 0";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (credited.Contains(reader.GetString(0)))
                {
                    continue;
                }
                balances[reader.GetString(1)][3] += reader.GetInt64(4);
                var transit = Bulwark.Ledger.Cells.TransitAccounts.IdOf((int)reader.GetInt64(2), reader.GetString(3), Bulwark.Ledger.LedgerLimits.PartitionCountDefault)
                    .ToString("X32", System.Globalization.CultureInfo.InvariantCulture);
                if (!balances.TryGetValue(transit, out var account))
                {
                    balances[transit] = account = new long[4];
                }
                account[1] += reader.GetInt64(4);
            }
        }
        return Render(balances);
    }

    /// <summary>The ids (hex) of the credit legs written in any cell of the bank in <paramref name="directory"/>.</summary>
    private static HashSet<string> CreditLegs(string directory) => Ids(directory, "SELECT hex(id) FROM transfers WHERE leg = 2");

    /// <summary>The ids (hex) of the credit legs any cell of the bank in <paramref name="directory"/> still owes another.</summary>
    private static HashSet<string> OwedLegs(string directory) => Ids(directory, "SELECT hex(id) FROM credit_legs_owed WHERE state = 0");

    private static HashSet<string> Ids(string directory, string query)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var cell in Directory.GetFiles(directory, "ledger*.db"))
        {
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={cell};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = query;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                ids.Add(reader.GetString(0));
            }
        }
        return ids;
    }

    private static List<string> Render(SortedDictionary<string, long[]> balances) =>
        balances.Select(entry => $"{entry.Key} {string.Join(' ', entry.Value)}").ToList();

    [Fact]
    public async Task Backup_LogAheadOfTheCells_CopiesTheLogAsTheCellsHoldIt_SoTheRestoredBankNumbersItsNextEventsWithoutAConflict()
    {
        await MakeBankAsync();
        var events = new BankPaths(Bank).Events;
        // An event the bank appended after the cells' copy (the log is read after them, while the
        // bank goes on): its partition's next number in the log, held by no cell.
        int partition;
        long last;
        Dictionary<int, long> before;
        await using (var log = Bulwark.EventLog.Files.FileEventLog.Open(new Bulwark.EventLog.Files.FileEventLogOptions { Directory = events }))
        {
            before = [];
            foreach (var each in log.Partitions)
            {
                before[each] = await log.GetLastSequenceAsync(each);
            }
            (partition, last) = before.MaxBy(entry => entry.Value);
            Bulwark.EventLog.EventRecord newest = null!;
            await foreach (var record in log.ReadAsync(partition, last))
            {
                newest = record;
            }
            await log.AppendAsync([new Bulwark.EventLog.EventRecord(partition, last + 1, newest.Cell, newest.CellSequence + 1_000, newest.Kind, newest.Payload)]);
        }
        var output = new StringWriter();

        Assert.True(BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), output, output) == 0, output.ToString());
        Assert.Contains($"event log copied as the cells hold it ({before.Values.Sum()} records, 1 newer left out)", output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(BackupDir, "events", "LOCK")));
        Assert.Equal(0, BackupCommand.BackupKeys(new DirectoryInfo(Bank), new DirectoryInfo(KeysBackup), TextWriter.Null, TextWriter.Null));
        var restore = new StringWriter();
        Assert.True(BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), restore, restore, keysFrom: new DirectoryInfo(KeysBackup)) == 0, restore.ToString());
        await using (var restored = Bulwark.EventLog.Files.FileEventLog.OpenSnapshot(new BankPaths(Restored).Events))
        {
            Assert.Equal(before.Keys.Order(), restored.Partitions);
            foreach (var (each, sequence) in before)
            {
                Assert.Equal(sequence, await restored.GetLastSequenceAsync(each));
            }
        }
    }

    [Fact]
    public async Task Backup_ACellHasSeenANewerEpochThanTheMap_FailsNamingThePartitionAndLeavesNothingBehind()
    {
        await MakeBankAsync();
        SetEpoch(Path.Combine(Bank, "ledger.db"), partition: 5, epoch: 3);
        var error = new StringWriter();

        Assert.Equal(1, BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), TextWriter.Null, error));
        Assert.Contains("placement map in", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("refused: partition 5: the placement map gives it to cell a at epoch 1, but cell a has recorded epoch 3", error.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(BackupDir));
    }

    [Fact]
    public async Task Restore_MapOlderThanTheBackupsCells_RefusesAndLeavesTargetAbsent()
    {
        // A backup whose map was read at another moment than its cells (as backups were taken before
        // the cells were copied at one moment): here cell a recorded an epoch the map never reached.
        await MakeBackupAsync();
        SetEpoch(Path.Combine(BackupDir, "ledger.db"), partition: 5, epoch: 3);
        RewriteManifest(BackupDir);
        var error = new StringWriter();

        Assert.Equal(1, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, error, keysFrom: new DirectoryInfo(KeysBackup)));
        Assert.Contains("placement map (placement.json) disagrees with its cells; refusing to restore it", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("partition 5", error.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Restored));
    }

    [Fact]
    public void RefuseChangesOutsideTheDatabaseFiles_ACopyWithCommitsInItsWal_RefusesNamingIt()
    {
        Directory.CreateDirectory(BackupDir);
        var copy = Path.Combine(BackupDir, "ledger.db");
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={copy};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        // Left open, with checkpoints off: the commit stays in ledger.db-wal, as the repair's once did.
        command.CommandText = "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x); INSERT INTO t VALUES (1);";
        command.ExecuteNonQuery();

        var refused = Assert.Throws<IOException>(() => BackupCommand.RefuseChangesOutsideTheDatabaseFiles(BackupDir));

        Assert.Contains("ledger.db has changes in ledger.db-wal", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>Records in the cell at <paramref name="cell"/> that it owns <paramref name="partition"/> at <paramref name="epoch"/>, in the database file itself.</summary>
    private static void SetEpoch(string cell, int partition, long epoch)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={cell};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"UPDATE partition_owners SET epoch = {epoch} WHERE partition = {partition}";
        Assert.Equal(1, command.ExecuteNonQuery());
        command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        command.ExecuteNonQuery();
    }

    /// <summary>The backup's manifest describing its files as they are now (a backup changed on purpose, not damaged).</summary>
    private static void RewriteManifest(string backup)
    {
        var path = Path.Combine(backup, BackupCommand.ManifestName);
        var manifest = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllText(path), BackupJsonContext.Default.BackupManifest)!;
        var files = manifest.Files.Select(file =>
        {
            var bytes = File.ReadAllBytes(Path.Combine(backup, file.Path));
            return file with { Bytes = bytes.Length, Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)) };
        }).ToList();
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(manifest with { Files = files }, BackupJsonContext.Default.BackupManifest));
    }

    [Fact]
    public void Backup_NoBankInDataDirectory_ExitsTwo()
    {
        var error = new StringWriter();

        Assert.Equal(2, BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), TextWriter.Null, error));
        Assert.Contains("no bank", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Backup_TargetNotEmpty_ExitsTwoAndWritesNothing()
    {
        Directory.CreateDirectory(Bank);
        File.WriteAllText(Path.Combine(Bank, "ledger.db"), "");
        Directory.CreateDirectory(BackupDir);
        File.WriteAllText(Path.Combine(BackupDir, "other.txt"), "keep me");
        var error = new StringWriter();

        Assert.Equal(2, BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), TextWriter.Null, error));
        Assert.Contains("--to", error.ToString(), StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(BackupDir));
    }

    [Fact]
    public async Task Restore_DamagedFile_RefusesAndLeavesTargetAbsent()
    {
        await MakeBackupAsync();
        var key = Path.Combine(KeysBackup, "keys", "tokenisation.key");
        var bytes = await File.ReadAllBytesAsync(key);
        bytes[0] ^= 0xFF;
        await File.WriteAllBytesAsync(key, bytes);
        var error = new StringWriter();

        Assert.Equal(1, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, error, keysFrom: new DirectoryInfo(KeysBackup)));
        Assert.Contains("keys/tokenisation.key does not match", error.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Restored));
    }

    [Fact]
    public async Task Restore_TargetNotEmpty_Refuses()
    {
        await MakeBackupAsync();
        Directory.CreateDirectory(Restored);
        File.WriteAllText(Path.Combine(Restored, "ledger.db"), "a live bank");
        var error = new StringWriter();

        Assert.Equal(2, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, error));
        Assert.Equal("a live bank", File.ReadAllText(Path.Combine(Restored, "ledger.db")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"files\": [{\"path\": \"../../etc/passwd\", \"bytes\": 1, \"sha256\": \"00\"}]}")]
    [InlineData("not json")]
    public void Restore_BadManifest_Refuses(string manifest)
    {
        Directory.CreateDirectory(BackupDir);
        File.WriteAllText(Path.Combine(BackupDir, BackupCommand.ManifestName), manifest);
        var error = new StringWriter();

        Assert.Equal(1, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, error));
        Assert.False(Directory.Exists(Restored));
    }

    [Fact]
    public void Restore_NotABackup_ExitsTwo()
    {
        Directory.CreateDirectory(BackupDir);

        Assert.Equal(2, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public async Task Backup_BankOnPostgresUnderLoad_RestoresIntoAnEmptyDatabase()
    {
        var cancellation = new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;
        var server = TemporaryPostgresServer.Shared;
        var (source, sourceUrl) = NewDatabase(server, "bank");
        var paths = new BankPaths(Bank);
        string customerId;
        // The coherence checker in the bank keeps making synthetic accounts: the backup holds those
        // made by its moment, so its count lies between the counts just before and just after it.
        (long Before, long After) accountsAtBackup;
        await using (var app = BankHost.Build(paths, new IPEndPoint(IPAddress.Loopback, 0), ledgerPostgres: source))
        {
            await app.StartAsync(cancellation);
            var population = await new DemoSeeder(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<LedgerClient>(), TextWriter.Null)
                .SeedAsync(5, seed: 3, cancellation);
            population.Save(paths.DemoPopulation);
            customerId = population.Customers[0].CustomerId;

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            var workload = new BankWorkload(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<FeedClient>(), app.Services.GetRequiredService<LedgerClient>(), population, seed: 3);
            var running = workload.RunAsync(100, stop.Token);
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellation);
            var output = new StringWriter();
            var accountsBefore = LedgerChecker.CheckPostgres(source).AccountCount;
            var exit = BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), output, output, sourceUrl);
            accountsAtBackup = (accountsBefore, LedgerChecker.CheckPostgres(source).AccountCount);
            await stop.CancelAsync();
            await running;
            await app.StopAsync(cancellation);

            Assert.True(exit == 0, output.ToString());
            Assert.Contains("PostgreSQL schemas accounts, config, ledger, support", output.ToString(), StringComparison.Ordinal);
        }
        Assert.True(File.Exists(Path.Combine(BackupDir, "postgres.dump")));
        AssertHoldsNoKey(BackupDir);
        Assert.False(File.Exists(Path.Combine(BackupDir, "ledger.db")));
        Assert.Equal(0, BackupCommand.BackupKeys(new DirectoryInfo(Bank), new DirectoryInfo(KeysBackup), TextWriter.Null, TextWriter.Null));

        var (restored, restoredUrl) = NewDatabase(server, "restored");
        var restoreOutput = new StringWriter();
        var restoreExit = BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), restoreOutput, restoreOutput, restoredUrl, new DirectoryInfo(KeysBackup));

        Assert.True(restoreExit == 0, restoreOutput.ToString());
        Assert.False(File.Exists(Path.Combine(Restored, "postgres.dump")));
        var check = LedgerChecker.CheckPostgres(restored);
        Assert.True(check.Ok, string.Join("; ", check.Problems));
        Assert.InRange(check.AccountCount, accountsAtBackup.Before, accountsAtBackup.After);
        await using (var app = BankHost.Build(new BankPaths(Restored), new IPEndPoint(IPAddress.Loopback, 0), ledgerPostgres: restored))
        {
            await app.StartAsync(cancellation);
            var listed = await app.Services.GetRequiredService<AccountsClient>()
                .ListAccountsAsync(new Bulwark.Accounts.Protos.ListAccountsRequest { CustomerId = customerId }, cancellationToken: cancellation);
            Assert.NotEmpty(listed.Accounts);
            await app.StopAsync(cancellation);
        }

        // The same backup again into a database that now holds a bank: refused, nothing touched.
        Directory.Delete(Restored, recursive: true);
        var again = new StringWriter();
        Assert.Equal(2, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, again, restoredUrl, new DirectoryInfo(KeysBackup)));
        Assert.Contains("already holds schema(s) accounts, config, ledger", again.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Restored));

        // And without --store: the backup says what it needs.
        var missing = new StringWriter();
        Assert.Equal(2, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, missing, keysFrom: new DirectoryInfo(KeysBackup)));
        Assert.Contains("pass --store postgres://", missing.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Backup_BankOnPostgres_LogAheadOfTheDump_CopiesTheLogAsTheDumpHoldsIt()
    {
        var cancellation = new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;
        var server = TemporaryPostgresServer.Shared;
        var (source, sourceUrl) = NewDatabase(server, "bank");
        var paths = new BankPaths(Bank);
        await using (var app = BankHost.Build(paths, new IPEndPoint(IPAddress.Loopback, 0), ledgerPostgres: source))
        {
            await app.StartAsync(cancellation);
            var population = await new DemoSeeder(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<LedgerClient>(), TextWriter.Null)
                .SeedAsync(3, seed: 5, cancellation);
            population.Save(paths.DemoPopulation);
            await app.StopAsync(cancellation);
        }
        // The bank stopped with everything published: the log holds what the database holds. Then
        // one event more (one the bank would append after the dump's moment, while it runs): its
        // partition's next number, held by no store.
        Dictionary<int, long> before = [];
        await using (var log = Bulwark.EventLog.Files.FileEventLog.Open(new Bulwark.EventLog.Files.FileEventLogOptions { Directory = paths.Events }))
        {
            foreach (var each in log.Partitions)
            {
                before[each] = await log.GetLastSequenceAsync(each);
            }
            var (partition, last) = before.MaxBy(entry => entry.Value);
            Bulwark.EventLog.EventRecord newest = null!;
            await foreach (var record in log.ReadAsync(partition, last))
            {
                newest = record;
            }
            await log.AppendAsync([new Bulwark.EventLog.EventRecord(partition, last + 1, newest.Cell, newest.CellSequence + 1_000, newest.Kind, newest.Payload)]);
        }
        Assert.NotEmpty(before);
        var output = new StringWriter();

        Assert.True(BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), output, output, sourceUrl) == 0, output.ToString());

        Assert.Contains($"event log copied as the cells hold it ({before.Values.Sum()} records, 1 newer left out)", output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(BackupDir, "events", "LOCK")));
        Assert.Equal(0, BackupCommand.BackupKeys(new DirectoryInfo(Bank), new DirectoryInfo(KeysBackup), TextWriter.Null, TextWriter.Null));
        var (_, restoredUrl) = NewDatabase(server, "restored");
        var restore = new StringWriter();
        Assert.True(BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), restore, restore, restoredUrl, new DirectoryInfo(KeysBackup)) == 0, restore.ToString());
        await using var restored = Bulwark.EventLog.Files.FileEventLog.OpenSnapshot(new BankPaths(Restored).Events);
        Assert.Equal(before.Keys.Order(), restored.Partitions);
        foreach (var (each, sequence) in before)
        {
            Assert.Equal(sequence, await restored.GetLastSequenceAsync(each));
        }
    }

    [Fact]
    public void Backup_DatabaseWithoutABank_ExitsTwoAndWritesNothing()
    {
        var (_, url) = NewDatabase(TemporaryPostgresServer.Shared, "empty");
        Directory.CreateDirectory(Bank);
        var error = new StringWriter();

        Assert.Equal(2, BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), TextWriter.Null, error, url));
        Assert.Contains("no Bulwark ledger", error.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(BackupDir));
    }

    [Fact]
    public void Backup_PostgresUnreachable_FailsNamingTheServer()
    {
        Directory.CreateDirectory(Bank);
        var port = FreePort();

        var error = Assert.ThrowsAny<IOException>(() =>
            BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), TextWriter.Null, TextWriter.Null, $"postgres://postgres@127.0.0.1:{port}/bank"));

        Assert.Contains($"127.0.0.1:{port}/bank", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(BackupDir));
    }

    [Fact]
    public async Task Restore_EmbeddedBackupWithStore_ExitsTwo()
    {
        await MakeBackupAsync();
        var error = new StringWriter();

        Assert.Equal(2, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, error, "postgres://postgres@127.0.0.1:1/bank", new DirectoryInfo(KeysBackup)));
        Assert.Contains("restore it without --store", error.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Restored));
    }

    [Theory]
    [InlineData("backup", "--to")]
    [InlineData("restore", "--from")]
    public void Store_NotAPostgresUrl_IsAParseErrorNamingTheOption(string command, string directoryOption)
    {
        var parse = BulwarkCommandLine.Create().Parse([command, directoryOption, BackupDir, "--store", "mysql://root@localhost/bank"]);

        Assert.Contains(parse.Errors, error => error.Message.StartsWith("--store:", StringComparison.Ordinal));
    }

    private static (string ConnectionString, string Url) NewDatabase(TemporaryPostgresServer server, string prefix)
    {
        var name = prefix + "_" + Guid.NewGuid().ToString("n")[..10];
        return (server.CreateDatabase(name), server.Url(name));
    }

    [Fact]
    public async Task Backup_BankLockHeld_SkipsTheLockAndRestoresACheckedLedger()
    {
        await MakeBankAsync();
        // A running bank holds bank.lock exclusively; before the fix the copy of it failed every time.
        using var held = BankLock.TryAcquire(Bank, out _);
        Assert.NotNull(held);
        var output = new StringWriter();

        Assert.True(BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), output, output) == 0, output.ToString());
        Assert.False(File.Exists(Path.Combine(BackupDir, BankLock.FileName)));
        Assert.Equal(0, BackupCommand.BackupKeys(new DirectoryInfo(Bank), new DirectoryInfo(KeysBackup), TextWriter.Null, TextWriter.Null));
        Assert.Equal(0, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, TextWriter.Null, keysFrom: new DirectoryInfo(KeysBackup)));
        Assert.True(BankLedger.Check(new BankPaths(Restored)).Ok);
    }

    [Fact]
    public async Task Backup_FileCannotBeRead_FailsAndLeavesNothingBehind()
    {
        await MakeBankAsync();
        // An exclusive lock on a plain file makes its copy fail half-way, after the databases are written.
        await File.WriteAllTextAsync(Path.Combine(Bank, "demo-population.json"), "{}");
        using var locked = new FileStream(Path.Combine(Bank, "demo-population.json"), FileMode.Open, FileAccess.ReadWrite, FileShare.None);

        Assert.Throws<IOException>(() => BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), TextWriter.Null, TextWriter.Null));
        Assert.False(Directory.Exists(BackupDir));
    }

    private async Task MakeBankAsync()
    {
        var cancellation = new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;
        await using var app = BankHost.Build(new BankPaths(Bank), new IPEndPoint(IPAddress.Loopback, 0));
        await app.StartAsync(cancellation);
        await new DemoSeeder(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<LedgerClient>(), TextWriter.Null)
            .SeedAsync(2, seed: 5, cancellation);
        await app.StopAsync(cancellation);
    }

    private async Task MakeBackupAsync()
    {
        var cancellation = new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;
        await using (var app = BankHost.Build(new BankPaths(Bank), new IPEndPoint(IPAddress.Loopback, 0)))
        {
            await app.StartAsync(cancellation);
            await new DemoSeeder(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<LedgerClient>(), TextWriter.Null)
                .SeedAsync(2, seed: 5, cancellation);
            await app.StopAsync(cancellation);
        }
        Assert.Equal(0, BackupCommand.Backup(new DirectoryInfo(Bank), new DirectoryInfo(BackupDir), TextWriter.Null, TextWriter.Null));
        Assert.Equal(0, BackupCommand.BackupKeys(new DirectoryInfo(Bank), new DirectoryInfo(KeysBackup), TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public async Task Restore_BackupTakenBeforeKeysWereApart_RestoresItsOwnKeysWithoutKeysOption()
    {
        await MakeBackupAsync();
        // As an older bulwark backup wrote it: the keys inside, and a manifest without keysApart.
        foreach (var key in Directory.GetFiles(Path.Combine(KeysBackup, "keys")))
        {
            Directory.CreateDirectory(Path.Combine(BackupDir, "keys"));
            File.Copy(key, Path.Combine(BackupDir, "keys", Path.GetFileName(key)));
        }
        var manifestPath = Path.Combine(BackupDir, BackupCommand.ManifestName);
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(manifestPath))!.AsObject();
        manifest.Remove("keysApart");
        var files = manifest["files"]!.AsArray();
        foreach (var key in Directory.GetFiles(Path.Combine(BackupDir, "keys")).Order(StringComparer.Ordinal))
        {
            var bytes = await File.ReadAllBytesAsync(key);
            files.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["path"] = "keys/" + Path.GetFileName(key),
                ["bytes"] = bytes.Length,
                ["sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)),
            });
        }
        await File.WriteAllTextAsync(manifestPath, manifest.ToJsonString());
        var output = new StringWriter();

        Assert.True(BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), output, output) == 0, output.ToString());
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(Bank, "keys", "tokenisation.key")), await File.ReadAllBytesAsync(Path.Combine(Restored, "keys", "tokenisation.key")));
        Directory.Delete(Restored, recursive: true);
        var withKeys = new StringWriter();
        Assert.Equal(2, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, withKeys, keysFrom: new DirectoryInfo(KeysBackup)));
        Assert.Contains("restore it without --keys", withKeys.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restore_DataBackupWithoutKeys_ExitsTwoAskingForTheKeyBackup()
    {
        await MakeBackupAsync();
        var error = new StringWriter();

        Assert.Equal(2, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, error));
        Assert.Contains("pass --keys DIR", error.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Restored));
    }

    [Fact]
    public async Task Restore_KeyBackupGivenAsFrom_ExitsTwo()
    {
        await MakeBackupAsync();
        var error = new StringWriter();

        Assert.Equal(2, BackupCommand.Restore(new DirectoryInfo(KeysBackup), new DirectoryInfo(Restored), TextWriter.Null, error));
        Assert.Contains("is a key backup; pass it as --keys", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BackupKeys_IntoTheDataDirectory_ExitsTwoAndWritesNothing()
    {
        await MakeBankAsync();
        var error = new StringWriter();

        Assert.Equal(2, BackupCommand.BackupKeys(new DirectoryInfo(Bank), new DirectoryInfo(Path.Combine(Bank, "key-copy")), TextWriter.Null, error));
        Assert.Contains("inside the data directory", error.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Bank, "key-copy")));
    }

    [Fact]
    public void BackupKeys_ParsesAsASubcommandOfBackup()
    {
        var parse = BulwarkCommandLine.Create().Parse(["backup", "keys", "--data", Bank, "--to", KeysBackup]);

        Assert.Empty(parse.Errors);
        Assert.Equal("keys", parse.CommandResult.Command.Name);
    }

    /// <summary>No file of the backup holds any key's bytes (the keys of the bank at <see cref="Bank"/>).</summary>
    private void AssertHoldsNoKey(string backup)
    {
        var keys = Directory.GetFiles(Path.Combine(Bank, "keys")).Select(File.ReadAllBytes).ToList();
        Assert.NotEmpty(keys);
        foreach (var file in Directory.GetFiles(backup, "*", SearchOption.AllDirectories))
        {
            var bytes = File.ReadAllBytes(file);
            foreach (var key in keys)
            {
                Assert.True(bytes.AsSpan().IndexOf(key) < 0, $"{file} holds the bytes of a key");
            }
        }
    }
}
