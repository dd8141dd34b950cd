using System.CommandLine;
using System.Net;
using Bulwark.Cards.Clearing;
using Bulwark.Cli.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark cards clear FILE</c>: ingests a BWCLR clearing file into a stopped bank's data
/// directory. The bank is opened in this process (ledger, accounts and card processor, as
/// <c>bulwark run</c> hosts them, without traffic), the file is posted, and the bank is closed.
/// A running bank is refused (its data directory is locked): the embedded ledger has one writer.
/// The file's full card numbers are tokenised by the accounts service on ingest and never kept:
/// the bank keeps a copy reduced to the last four digits (<see cref="BankPaths.ClearingReceived"/>),
/// and a file found inside the bank's data directory (where <c>bulwark run</c>'s simulator wrote
/// them before) is moved out, to the scheme's own directory, once posted.
/// </summary>
internal static class CardsCommand
{
    /// <summary>Unpresented holds are released after this many days: the ledger's own hold timeout (CardsOptions.HoldTimeoutSeconds).</summary>
    public const int ReleaseAfterDaysDefault = 7;

    /// <summary>Holds released by one run at most; the rest go at the next.</summary>
    public const int ReleasedPerRunMax = 100_000;

    public static Command Create()
    {
        var cards = new Command("cards", "Card operations on the embedded bank.");
        cards.Subcommands.Add(Clear());
        return cards;
    }

    private static Command Clear()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "A BWCLR clearing file, e.g. .bulwark-scheme/clearing/clearing-20261201-01.txt (docs/reference/clearing-file.md)." };
        var data = CommonOptions.Data();
        var releaseAfter = CommonOptions.PositiveInt("--release-after-days", "After posting the file, release (void) holds approved more than this many days ago that no presentment claimed.", ReleaseAfterDaysDefault, 365);
        var command = new Command("clear", "Post a clearing (presentment) file: match each presentment to its hold and post the presented amount, force-post presentments without a hold, skip duplicates. Run it while the bank is stopped.")
        {
            file, data, releaseAfter,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            Bulwark.Platform.Security.PrivateFiles.RestrictNewFilesToOwner();
            return ClearAsync(parse.GetValue(file)!, new BankPaths(parse.GetValue(data)!.FullName), TimeSpan.FromDays(parse.GetValue(releaseAfter)), Console.Out, Console.Error, cancellationToken);
        });
        return command;
    }

    internal static async Task<int> ClearAsync(FileInfo file, BankPaths paths, TimeSpan releaseAfter, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (!file.Exists)
        {
            await error.WriteLineAsync($"bulwark cards clear: no such file: {file.FullName}");
            return 2;
        }
        ClearingFile clearing;
        try
        {
            // Parsed whole before the bank is opened: a malformed file posts nothing.
            clearing = ClearingFile.ReadFile(file.FullName);
        }
        catch (FormatException malformed)
        {
            await error.WriteLineAsync($"bulwark cards clear: {file.FullName} is not a valid BWCLR clearing file, nothing was posted: {malformed.Message}");
            return 2;
        }
        catch (Exception unreadable) when (unreadable is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"bulwark cards clear: cannot read {file.FullName}: {unreadable.Message}");
            return 2;
        }
        if (!File.Exists(paths.Ledger) || !File.Exists(paths.Accounts) || !File.Exists(paths.CardsJournal))
        {
            await error.WriteLineAsync($"bulwark cards clear: no bank in {paths.DataDirectory} (it needs ledger.db, accounts.db and cards-journal.db, as `bulwark run` leaves them). Pass --data DIR.");
            return 2;
        }
        using var bankLock = BankLock.TryAcquire(paths.DataDirectory, out var holder);
        if (bankLock is null)
        {
            await error.WriteLineAsync($"bulwark cards clear: a bank is running on {paths.DataDirectory} ({holder}). Stop it first: clearing writes to the ledger, which has one writer.");
            return 2;
        }
        return await IngestAsync(file, clearing, paths, releaseAfter, output, error, cancellationToken);
    }

    private static async Task<int> IngestAsync(FileInfo file, ClearingFile clearing, BankPaths paths, TimeSpan releaseAfter, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        await using var app = BankHost.Build(paths, new IPEndPoint(IPAddress.Loopback, 0));
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception failed) when (failed is IOException or InvalidOperationException or UnauthorizedAccessException or ArgumentException or System.Data.Common.DbException)
        {
            await error.WriteLineAsync($"bulwark cards clear: the bank in {paths.DataDirectory} could not be opened: {failed.Message}");
            return 2;
        }
        ClearingReport report;
        int released;
        try
        {
            var ingestion = app.Services.GetRequiredService<CardClearing>();
            report = await ingestion.IngestAsync(clearing, cancellationToken);
            released = await ingestion.ReleaseUnpresentedAsync(DateTimeOffset.UtcNow - releaseAfter, ReleasedPerRunMax, cancellationToken);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
        }
        // Moved first: the old layout's file and the reduced copy share the path DATA/clearing/NAME.
        var movedTo = MoveOutOfBankData(file.FullName, paths);
        var kept = KeepWithoutCardNumbers(movedTo ?? file.FullName, paths);
        await output.WriteLineAsync($"Clearing file {report.FileId} ({file.Name}, business day {clearing.BusinessDay}): {report.Presentments:N0} presentments");
        await output.WriteLineAsync($"  posted {report.Matched + report.ForcePosted:N0}: matched {report.Matched:N0} to their holds ({report.AmountChanged:N0} at a different amount), force-posted {report.ForcePosted:N0} without a hold");
        await output.WriteLineAsync($"  duplicates {report.Duplicates:N0}, deferred {report.Deferred:N0}, refused {report.Refused.Count:N0}, released {released:N0} (holds approved over {releaseAfter.TotalDays:0} days ago and never presented)");
        foreach (var refused in report.Refused)
        {
            await output.WriteLineAsync($"  refused {refused}");
        }
        if (report.Deferred > 0)
        {
            await output.WriteLineAsync("  deferred presentments wait for a stand-in hold to reach the ledger: run the same file again later (nothing is posted twice).");
        }
        await output.WriteLineAsync($"  kept {kept} (card numbers reduced to their last four digits)");
        if (movedTo is not null)
        {
            await output.WriteLineAsync($"  moved {file.FullName} out of the bank's data directory to {movedTo}: the bank keeps no full card number");
        }
        return report.Refused.Count == 0 ? 0 : 1;
    }

    /// <summary>
    /// Writes the bank's record of the file: every line as received, except that each presentment's
    /// card number (field 6) keeps only its last four digits. Owner-only, written aside and renamed.
    /// </summary>
    private static string KeepWithoutCardNumbers(string file, BankPaths paths)
    {
        Bulwark.Platform.Security.PrivateFiles.CreateDirectory(paths.ClearingReceived);
        var target = Path.Combine(paths.ClearingReceived, Path.GetFileName(file));
        var temporary = target + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var writer = new StreamWriter(new FileStream(temporary, options), new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false)))
        {
            writer.NewLine = "\n";
            foreach (var line in File.ReadLines(file))
            {
                writer.WriteLine(ReduceCardNumber(line));
            }
        }
        File.Move(temporary, target, overwrite: true);
        return target;
    }

    /// <summary>A presentment line with its PAN (field 6) masked but the last four digits; other lines as they are.</summary>
    internal static string ReduceCardNumber(string line)
    {
        if (!line.StartsWith("P|", StringComparison.Ordinal))
        {
            return line;
        }
        var fields = line.Split('|');
        if (fields.Length > 5 && fields[5].Length > 4)
        {
            fields[5] = new string('*', fields[5].Length - 4) + fields[5][^4..];
        }
        return string.Join('|', fields);
    }

    /// <summary>
    /// A file inside the bank's data directory (older <c>bulwark run</c>s had their simulator write
    /// there) leaves it for the scheme's directory, so posting it again later still works; null when
    /// the file was elsewhere (left alone: it is the scheme's).
    /// </summary>
    private static string? MoveOutOfBankData(string file, BankPaths paths)
    {
        var relative = Path.GetRelativePath(Path.GetFullPath(paths.DataDirectory), file);
        if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            return null;
        }
        Directory.CreateDirectory(paths.SchemeClearing);
        var target = Path.Combine(paths.SchemeClearing, Path.GetFileName(file));
        if (File.Exists(target) && File.ReadAllBytes(target).AsSpan().SequenceEqual(File.ReadAllBytes(file)))
        {
            File.Delete(file);
            return target;
        }
        if (File.Exists(target))
        {
            target = Path.Combine(paths.SchemeClearing, Path.GetFileNameWithoutExtension(file) + "-from-bank-data-" + Guid.NewGuid().ToString("n")[..8] + Path.GetExtension(file));
        }
        File.Move(file, target);
        return target;
    }
}
