using System.Net;
using Bulwark.Cli.Commands;
using Bulwark.Cli.Demo;
using Bulwark.Cli.Hosting;
using Bulwark.Cli.Workload;
using Bulwark.Ledger;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
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
            var workload = new BankWorkload(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<FeedClient>(), population, seed: 3);
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
        Assert.True(File.Exists(Path.Combine(BackupDir, "keys", "tokenisation.key")));
        Assert.True(File.Exists(Path.Combine(BackupDir, "accounts.db")));

        var restoreOutput = new StringWriter();
        Assert.Equal(0, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), restoreOutput, restoreOutput));
        Assert.True(LedgerChecker.Check(Path.Combine(Restored, "ledger.db")).Ok);

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
        var key = Path.Combine(BackupDir, "keys", "tokenisation.key");
        var bytes = await File.ReadAllBytesAsync(key);
        bytes[0] ^= 0xFF;
        await File.WriteAllBytesAsync(key, bytes);
        var error = new StringWriter();

        Assert.Equal(1, BackupCommand.Restore(new DirectoryInfo(BackupDir), new DirectoryInfo(Restored), TextWriter.Null, error));
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
    }
}
