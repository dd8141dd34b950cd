using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Cli.Operator;
using Bulwark.Support.Protos;
using static Bulwark.Cli.Commands.CustomersCommand;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark audit list|verify</c>: the support service's append-only audit log of what staff do,
/// read through its contract. <c>verify</c> walks the hash chain and exits 1 when a link is broken.
/// </summary>
internal static class AuditCommand
{
    public const int ListLimitDefault = 50;

    public static Command Create()
    {
        var command = new Command("audit", "Read the audit log of staff actions and verify its hash chain, on a running bank or cluster.");
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateVerify());
        return command;
    }

    private static Command CreateList()
    {
        var common = CommonSymbols.Create();
        var subject = new Option<string?>("--subject") { Description = "Only entries about this subject (a customer id, a staff id ...)." };
        var actor = new Option<string?>("--actor") { Description = "Only entries by this actor (a staff id, or operator / system)." };
        var action = new Option<string?>("--action") { Description = "Only entries of this action, e.g. staff.created." };
        var limit = CommonOptions.PositiveInt("--limit", $"Entries on this page (default {ListLimitDefault}, at most {Bulwark.Support.SupportLimits.ListAuditLimitMax}).",
            ListLimitDefault, Bulwark.Support.SupportLimits.ListAuditLimitMax);
        var before = new Option<long?>("--before") { Description = "Only entries before this sequence number: the next-page cursor the previous page printed." };
        var command = new Command("list", "List audit entries, newest first.") { subject, actor, action, limit, before };
        common.AddTo(command);
        command.Action = new OperatorAction("audit list", async (parse, session, cancellationToken) =>
        {
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var page = await bank.Audit.ListAsync(new ListAuditRequest
            {
                Subject = parse.GetValue(subject) ?? "",
                Actor = parse.GetValue(actor) ?? "",
                Action = parse.GetValue(action) ?? "",
                Limit = parse.GetValue(limit),
                BeforeSequence = parse.GetValue(before) ?? 0,
            }, cancellationToken: cancellationToken);
            var output = session.Output;
            if (parse.GetValue(common.Json))
            {
                var json = new JsonObject
                {
                    ["entries"] = new JsonArray([.. page.Entries.Select(ToJson)]),
                    ["nextBefore"] = page.NextBeforeSequence > 0 ? page.NextBeforeSequence : null,
                };
                await output.WriteLineAsync(json.ToJsonString(CustomerViews.JsonOptions));
                return 0;
            }
            await CustomerViews.WriteTableAsync(output, ["SEQ", "TIME (UTC)", "ACTOR", "ACTION", "SUBJECT", "REASON"],
                page.Entries.Select(e => new[] { e.Sequence.ToString(CultureInfo.InvariantCulture), CustomerViews.Time(e.TimeUnixMs), e.Actor, e.Action, e.Subject, e.Reason }));
            await output.WriteLineAsync(page.NextBeforeSequence > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{page.Entries.Count} entries; next page: --before {page.NextBeforeSequence}")
                : $"{page.Entries.Count} entries; no more pages.");
            return 0;
        });
        return command;
    }

    private static Command CreateVerify()
    {
        var common = CommonSymbols.Create();
        var command = new Command("verify", "Walk the audit log's hash chain from the first entry; exit 1 and name the first broken entry if any was changed, removed or inserted.");
        common.AddTo(command);
        command.Action = new OperatorAction("audit verify", async (parse, session, cancellationToken) =>
        {
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var result = await bank.Audit.VerifyAsync(new VerifyAuditRequest(), cancellationToken: cancellationToken);
            var output = session.Output;
            if (parse.GetValue(common.Json))
            {
                await output.WriteLineAsync(new JsonObject
                {
                    ["intact"] = result.Intact,
                    ["entriesChecked"] = result.EntriesChecked,
                    ["headSequence"] = result.HeadSequence,
                    ["headHash"] = result.HeadHash,
                    ["brokenSequence"] = result.Intact ? null : result.BrokenSequence,
                    ["problem"] = result.Intact ? null : result.Problem,
                }.ToJsonString(CustomerViews.JsonOptions));
            }
            else if (result.Intact)
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"audit log intact: {result.EntriesChecked} entries; head {result.HeadSequence} {result.HeadHash} (write it down elsewhere: a later verify that ends before it means the tail was cut off)"));
            }
            else
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"audit log BROKEN at entry {result.BrokenSequence}: {result.Problem}. Entries 1 to {result.HeadSequence} are intact (head {result.HeadHash}). See docs/runbooks/staff.md."));
            }
            return result.Intact ? 0 : 1;
        });
        return command;
    }

    private static JsonObject ToJson(AuditEntry entry)
    {
        JsonNode? details;
        try
        {
            details = JsonNode.Parse(entry.DetailsJson);
        }
        catch (JsonException)
        {
            details = entry.DetailsJson;
        }
        return new JsonObject
        {
            ["sequence"] = entry.Sequence,
            ["time"] = CustomerViews.IsoTime(entry.TimeUnixMs),
            ["actor"] = entry.Actor,
            ["action"] = entry.Action,
            ["subject"] = entry.Subject,
            ["reason"] = entry.Reason,
            ["details"] = details,
            ["sourceAddress"] = entry.SourceAddress.Length > 0 ? entry.SourceAddress : null,
            ["previousHash"] = entry.PreviousHash,
            ["hash"] = entry.Hash,
        };
    }
}
