using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Cli.Operator;
using Bulwark.Config.Identity;
using Bulwark.Config.Protos;
using Grpc.Core;
using static Bulwark.Cli.Commands.CustomersCommand;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark config get|set|delete|history|list|watch|compact</c>: the configuration service of a
/// running bank (<c>--data</c>) or cluster (<c>--state</c>, <c>--registry</c>), through its own
/// contract. Exit codes: 0 done; 2 an operating error — bad input, a key never held, a refused
/// write (stale version, too large), a compacted revision, a bank not found or not answering;
/// 3 <c>watch --timeout</c> passed before <c>--count</c> events; 1 any other failure; 130
/// interrupted. Writes name their caller in the <c>bulwark-actor</c> header (the login name):
/// a claim, recorded as unverified until staff tokens exist (issue 14, item 3).
/// </summary>
internal static class ConfigCommand
{
    public const int ExitTimedOut = 3;

    public const int HistoryLimitDefault = 20;

    public static Command Create()
    {
        var command = new Command("config", "Read, change, watch and compact the bank's configuration (versioned keys) through the config service's contract.");
        command.Subcommands.Add(CreateGet());
        command.Subcommands.Add(CreateSet());
        command.Subcommands.Add(CreateDelete());
        command.Subcommands.Add(CreateHistory());
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateWatch());
        command.Subcommands.Add(CreateCompact());
        return command;
    }

    private static Argument<string?> KeyArgument() => new("key") { Description = "The key: 1-200 characters of a-z, 0-9, '.', '_', '-' and '/'.", Arity = ArgumentArity.ZeroOrOne };

    private static Option<string?> ReasonOption() => new("--reason") { Description = "Why (required, 1-500 characters): kept in the key's history." };

    private static Option<long?> ExpectedVersionOption() => new("--expected-version")
    {
        Description = "Change the key only if it is at this version (0: it must hold no value). Without it the current version is read first, and the command says so.",
    };

    private static string Required(ParseResult parse, Argument<string?> argument, string usage) =>
        parse.GetValue(argument) is { } value && !value.StartsWith('-') ? value : throw new OperatorException($"give the key: {usage}.");

    private static Command CreateGet()
    {
        var common = CommonSymbols.Create();
        var key = KeyArgument();
        var command = new Command("get", "Show a key's latest change: its value, or that it was deleted. A key the store has never held is an error (exit 2).") { key };
        common.AddTo(command);
        command.Action = new OperatorAction("config get", async (parse, session, cancellationToken) =>
        {
            var name = Required(parse, key, "bulwark config get KEY");
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var read = await RefusalsAsync(() => bank.Config.GetAsync(new GetRequest { Key = name }, cancellationToken: cancellationToken).ResponseAsync);
            var output = session.Output;
            if (parse.GetValue(common.Json))
            {
                var json = ConfigViews.ToJson(read.Entry);
                json["revision"] = read.Revision;
                await output.WriteLineAsync(json.ToJsonString(CustomerViews.JsonOptions));
                return 0;
            }
            await output.WriteLineAsync($"key:      {read.Entry.Key}");
            await output.WriteLineAsync($"version:  {read.Entry.Version} (store revision {read.Revision})");
            await output.WriteLineAsync(read.Entry.Deleted ? "value:    (deleted: a tombstone)" : $"value:    {read.Entry.Value}");
            await output.WriteLineAsync($"changed:  {ConfigViews.Provenance(read.Entry)}");
            return 0;
        });
        return command;
    }

    private static Command CreateSet()
    {
        var common = CommonSymbols.Create();
        var key = KeyArgument();
        var value = new Argument<string?>("value") { Description = "The value (UTF-8 text, at most 64 KiB; JSON by convention). Put -- before a value that starts with '-'.", Arity = ArgumentArity.ZeroOrOne };
        var reason = ReasonOption();
        var expected = ExpectedVersionOption();
        var breakGlass = new Option<bool>("--break-glass")
        {
            Description = $"Only for {Bulwark.Edge.Staff.ConfigStaffSourceRanges.Key}, when the allowed ranges shut every operator out of the staff edge (its operator gateway among them): "
                + "write straight to the configuration service from the bank's own machine (where DATA/bank.json or the cluster's state is), without a staff session. "
                + "Recorded in the key's history as break-glass by the local user; see docs/runbooks/staff-edge.md.",
        };
        var command = new Command("set", "Set a key's value, compare-and-set on its version.") { key, value, reason, expected, breakGlass };
        common.AddTo(command);
        command.Action = new OperatorAction("config set", async (parse, session, cancellationToken) =>
        {
            var name = Required(parse, key, "bulwark config set KEY VALUE --reason WHY");
            var text = parse.GetValue(value) ?? throw new OperatorException("give the value: bulwark config set KEY VALUE --reason WHY.");
            var why = parse.GetValue(reason) ?? throw new OperatorException("--reason is required: say why; it is kept in the key's history.");
            var target = common.Target(parse);
            if (parse.GetValue(breakGlass))
            {
                if (name != Bulwark.Edge.Staff.ConfigStaffSourceRanges.Key)
                {
                    throw new OperatorException($"--break-glass is only for {Bulwark.Edge.Staff.ConfigStaffSourceRanges.Key} (the ranges that decide who reaches the staff edge); every other key goes through the operator gateway.");
                }
                // The one way past the gateway: the ranges that would let operators back in (the 2019 lockout, R14).
                target = target with { Direct = true };
            }
            await using var bank = await session.ConnectAsync(target, cancellationToken);
            var version = await ExpectedAsync(bank, name, parse.GetValue(expected), forDelete: false, parse.InvocationConfiguration.Error, cancellationToken);
            var actor = parse.GetValue(breakGlass) ? new Metadata { { UnauthenticatedCallerIdentity.ActorHeader, $"break-glass {Environment.UserName}" } } : Actor();
            var written = await RefusalsAsync(() => bank.Config.PutAsync(new PutRequest { Key = name, Value = text, ExpectedVersion = version, Reason = why }, actor, cancellationToken: cancellationToken).ResponseAsync);
            await WriteChangeAsync(session.Output, parse.GetValue(common.Json), written.Entry, $"set {name}: now version {written.Entry.Version} (was {(version == 0 ? "no value" : $"version {version}")}).");
            return 0;
        });
        return command;
    }

    private static Command CreateDelete()
    {
        var common = CommonSymbols.Create();
        var key = KeyArgument();
        var reason = ReasonOption();
        var expected = ExpectedVersionOption();
        var command = new Command("delete", "Delete a key: writes a tombstone, kept in its history (consumers then hear 'deleted', never 'not found').") { key, reason, expected };
        common.AddTo(command);
        command.Action = new OperatorAction("config delete", async (parse, session, cancellationToken) =>
        {
            var name = Required(parse, key, "bulwark config delete KEY --reason WHY");
            var why = parse.GetValue(reason) ?? throw new OperatorException("--reason is required: say why; it is kept in the key's history.");
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var version = await ExpectedAsync(bank, name, parse.GetValue(expected), forDelete: true, parse.InvocationConfiguration.Error, cancellationToken);
            var deleted = await RefusalsAsync(() => bank.Config.DeleteAsync(new DeleteRequest { Key = name, ExpectedVersion = version, Reason = why }, Actor(), cancellationToken: cancellationToken).ResponseAsync);
            await WriteChangeAsync(session.Output, parse.GetValue(common.Json), deleted.Entry, $"deleted {name}: a tombstone at version {deleted.Entry.Version} (was version {version}).");
            return 0;
        });
        return command;
    }

    private static Command CreateHistory()
    {
        var common = CommonSymbols.Create();
        var key = KeyArgument();
        var limit = CommonOptions.PositiveInt("--limit", $"Changes on this page (default {HistoryLimitDefault}, at most {Bulwark.Config.ConfigLimits.HistoryLimitMax}).", HistoryLimitDefault, Bulwark.Config.ConfigLimits.HistoryLimitMax);
        var before = new Option<long?>("--before") { Description = "Changes before this revision: the next-page revision the previous page printed." };
        var command = new Command("history", "A key's changes, newest first: who, when, why.") { key, limit, before };
        common.AddTo(command);
        command.Action = new OperatorAction("config history", async (parse, session, cancellationToken) =>
        {
            var name = Required(parse, key, "bulwark config history KEY");
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var page = await RefusalsAsync(() => bank.Config.HistoryAsync(new HistoryRequest { Key = name, Limit = parse.GetValue(limit), BeforeRevision = parse.GetValue(before) ?? 0 }, cancellationToken: cancellationToken).ResponseAsync);
            var output = session.Output;
            if (parse.GetValue(common.Json))
            {
                var json = new JsonObject
                {
                    ["changes"] = new JsonArray([.. page.Changes.Select(ConfigViews.ToJson)]),
                    ["compactedRevision"] = page.CompactedRevision,
                    ["nextBefore"] = page.More ? page.Changes[^1].Version : null,
                };
                await output.WriteLineAsync(json.ToJsonString(CustomerViews.JsonOptions));
                return 0;
            }
            await CustomerViews.WriteTableAsync(output, ["VERSION", "CHANGED (UTC)", "BY", "VALUE", "REASON"],
                page.Changes.Select(c => new[] { c.Version.ToString(CultureInfo.InvariantCulture), CustomerViews.Time(c.ChangedAtMs), c.ChangedBy, ConfigViews.Cell(c), c.Reason }));
            var complete = page.CompactedRevision == 0 ? "history is complete" : $"history is complete above revision {page.CompactedRevision} (compacted)";
            await output.WriteLineAsync(page.More
                ? $"{page.Changes.Count} change(s); {complete}; next page: --before {page.Changes[^1].Version}"
                : $"{page.Changes.Count} change(s); {complete}; no more pages.");
            return 0;
        });
        return command;
    }

    private static Command CreateList()
    {
        var common = CommonSymbols.Create();
        var prefix = new Argument<string?>("prefix") { Description = "Only keys starting with this (default: every key).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("list", "Every key (under a prefix) at one revision, deleted ones included, in key order.") { prefix };
        common.AddTo(command);
        command.Action = new OperatorAction("config list", async (parse, session, cancellationToken) =>
        {
            var under = parse.GetValue(prefix) ?? "";
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var (entries, revision) = await ListAllAsync(bank, under, cancellationToken);
            var output = session.Output;
            if (parse.GetValue(common.Json))
            {
                var json = new JsonObject { ["revision"] = revision, ["entries"] = new JsonArray([.. entries.Select(ConfigViews.ToJson)]) };
                await output.WriteLineAsync(json.ToJsonString(CustomerViews.JsonOptions));
                return 0;
            }
            await CustomerViews.WriteTableAsync(output, ["KEY", "VERSION", "VALUE"],
                entries.Select(e => new[] { e.Key, e.Version.ToString(CultureInfo.InvariantCulture), ConfigViews.Cell(e) }));
            await output.WriteLineAsync($"{entries.Count} key(s) at revision {revision} ({entries.Count(e => e.Deleted)} deleted).");
            return 0;
        });
        return command;
    }

    private static Command CreateCompact()
    {
        var common = CommonSymbols.Create();
        var revision = new Option<long?>("--revision") { Description = "Remove history at and below this revision, except each key's latest change as of it (values and tombstones stay)." };
        var command = new Command("compact", "Remove old history up to a revision; every key keeps its latest change.") { revision };
        common.AddTo(command);
        command.Action = new OperatorAction("config compact", async (parse, session, cancellationToken) =>
        {
            var at = parse.GetValue(revision) ?? throw new OperatorException("--revision is required: history at and below it is compacted.");
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var compaction = await RefusalsAsync(() => bank.Config.CompactAsync(new CompactRequest { Revision = at }, Actor(), cancellationToken: cancellationToken).ResponseAsync);
            await session.Output.WriteLineAsync(parse.GetValue(common.Json)
                ? new JsonObject { ["compactedRevision"] = compaction.CompactedRevision, ["removed"] = compaction.Removed }.ToJsonString(CustomerViews.JsonOptions)
                : $"compacted at revision {compaction.CompactedRevision}: {compaction.Removed} change(s) removed.");
            return 0;
        });
        return command;
    }

    private static Command CreateWatch()
    {
        var common = CommonSymbols.Create();
        var prefix = new Argument<string?>("prefix") { Description = "Only keys starting with this (default: every key).", Arity = ArgumentArity.ZeroOrOne };
        var from = new Option<long?>("--from") { Description = "Print the changes after this revision, then new ones. Default 0: a snapshot of every key first." };
        var count = CommonOptions.PositiveInt("--count", "Stop after this many events (a change, or a whole snapshot).", int.MaxValue, int.MaxValue);
        var timeout = CommonOptions.Duration("--timeout", "Stop after this long (e.g. 30s); with --count, exit 3 if fewer events came.");
        var command = new Command("watch", "Print changes as they commit (progress events keep the stream alive and are not printed). Runs until Ctrl-C, --count or --timeout.") { prefix, from, count, timeout };
        common.AddTo(command);
        command.Action = new OperatorAction("config watch", async (parse, session, cancellationToken) =>
        {
            var request = new WatchRequest { Prefix = parse.GetValue(prefix) ?? "", FromRevision = parse.GetValue(from) ?? 0 };
            var wanted = parse.GetValue(count);
            var limit = parse.GetValue(timeout);
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (limit is { } duration)
            {
                bound.CancelAfter(duration);
            }
            var printer = new WatchPrinter(session.Output, parse.GetValue(common.Json));
            try
            {
                await RefusalsAsync(() => printer.PrintAsync(bank.Config, request, wanted, bound.Token));
                return 0;
            }
            catch (Exception error) when (Bulwark.Platform.Hosting.Cancellation.IsGivenUp(error, bound.Token) && !cancellationToken.IsCancellationRequested)
            {
                if (wanted == int.MaxValue)
                {
                    return 0;
                }
                await parse.InvocationConfiguration.Error.WriteLineAsync(
                    $"bulwark config watch: --timeout {limit!.Value.TotalSeconds:0.###}s passed with {printer.Events} of {wanted} event(s).");
                return ExitTimedOut;
            }
        });
        return command;
    }

    /// <summary>The version a write compares against: --expected-version when given, else the key's current one, read now and said on standard error.</summary>
    private static async Task<long> ExpectedAsync(BankConnection bank, string key, long? given, bool forDelete, TextWriter error, CancellationToken cancellationToken)
    {
        if (given is { } version)
        {
            return version < 0 ? throw new OperatorException($"--expected-version must be 0 or more, not {version}.") : version;
        }
        GetResponse? read = null;
        try
        {
            read = await bank.Config.GetAsync(new GetRequest { Key = key }, cancellationToken: cancellationToken);
        }
        catch (RpcException exception) when (exception.StatusCode == StatusCode.NotFound && !forDelete)
        {
            // Never held: 0, "must hold no value".
        }
        var current = read is null ? 0 : read.Entry.Deleted && !forDelete ? 0 : read.Entry.Version;
        var state = read is null ? "never held" : read.Entry.Deleted ? $"deleted at version {read.Entry.Version}" : $"at version {current}";
        await error.WriteLineAsync($"bulwark config: no --expected-version given: read {key} first ({state}); changing it only if it is still so.");
        return current;
    }

    /// <summary>Every key under the prefix, page after page at the first page's revision (one snapshot).</summary>
    private static async Task<(List<Entry> Entries, long Revision)> ListAllAsync(BankConnection bank, string prefix, CancellationToken cancellationToken)
    {
        var entries = new List<Entry>();
        var request = new ListRequest { Prefix = prefix };
        while (true)
        {
            var page = await RefusalsAsync(() => bank.Config.ListAsync(request, cancellationToken: cancellationToken).ResponseAsync);
            entries.AddRange(page.Entries);
            if (!page.More)
            {
                return (entries, page.Revision);
            }
            request = new ListRequest { Prefix = prefix, AfterKey = page.Entries[^1].Key, AtRevision = page.Revision };
        }
    }

    private static async Task WriteChangeAsync(TextWriter output, bool json, Entry entry, string line) =>
        await output.WriteLineAsync(json ? ConfigViews.ToJson(entry).ToJsonString(CustomerViews.JsonOptions) : line);

    /// <summary>The caller's claimed name (the login name), sent on writes: recorded as unverified until staff tokens exist.</summary>
    private static Metadata Actor() => new() { { UnauthenticatedCallerIdentity.ActorHeader, Environment.UserName } };

    /// <summary>
    /// The service's refusals an operator acts on — a stale version, a value too large, a
    /// compacted revision, a watch ended for falling behind — as one line and exit 2, with the
    /// service's own words (which name the current version or what to do).
    /// </summary>
    private static async Task<T> RefusalsAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (RpcException error) when (error.StatusCode is StatusCode.FailedPrecondition or StatusCode.OutOfRange or StatusCode.ResourceExhausted or StatusCode.Aborted)
        {
            throw new OperatorException(error.Status.Detail);
        }
    }

    private static Task RefusalsAsync(Func<Task> call) => RefusalsAsync(async () =>
    {
        await call();
        return true;
    });
}
