using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Cli.Operator;

namespace Bulwark.Cli.Reconcile;

/// <summary>
/// What <c>bulwark reconcile</c> found, check by check, as a table for people or JSON for
/// scripts. Ok only when no check found a difference and every check that ran finished; a repaired
/// difference still counts, so that a repair is never silent (run reconcile again to see the bank clean).
/// </summary>
internal sealed record ReconcileReport(string Bank, bool Repair, IReadOnlyList<ReconcileCheckResult> Results)
{
    public bool Ok => Results.All(result => result.Outcome is ReconcileOutcome.Passed or ReconcileOutcome.NotChecked);

    /// <summary>0 no difference; 1 differences; 2 a check could not finish (what the others found is still printed).</summary>
    public int ExitCode => Results.Any(result => result.Outcome == ReconcileOutcome.Failed) ? 2 : Ok ? 0 : 1;

    public void WriteTable(TextWriter writer)
    {
        writer.WriteLine($"Reconciling {Bank}{(Repair ? " (with --repair)" : "")}");
        var rows = Results.Select(result => new[]
        {
            result.Name,
            Word(result.Outcome),
            Number(result.Compared),
            Number(result.Count(FindingKind.Repairable) + result.Count(FindingKind.NeedsPerson) + result.Count(FindingKind.Repaired)),
            Number(result.Count(FindingKind.Repaired)),
            Number(result.Count(FindingKind.NeedsPerson)),
            Number(result.Count(FindingKind.InFlight)),
            result.Title,
        }).ToList();
        string[] header = ["CHECK", "RESULT", "COMPARED", "DIFFERENCES", "REPAIRED", "FOR A PERSON", "IN FLIGHT", "WHAT"];
        var widths = header.Select((title, column) => rows.Select(row => row[column].Length).Append(title.Length).Max()).ToArray();
        writer.WriteLine(Line(header, widths));
        foreach (var row in rows)
        {
            writer.WriteLine(Line(row, widths));
        }
        foreach (var result in Results.Where(result => result.Note is not null || result.Findings.Count > 0))
        {
            writer.WriteLine();
            writer.WriteLine($"{result.Name}: {result.Note ?? ""}".TrimEnd());
            foreach (var finding in result.Findings)
            {
                writer.WriteLine($"  {KindWord(finding.Kind),-13} {finding.Subject}  {finding.Detail}");
            }
            var listed = result.Findings.Count;
            var total = Enum.GetValues<FindingKind>().Sum(result.Count);
            if (total > listed)
            {
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ... and {total - listed} more"));
            }
        }
        writer.WriteLine();
        writer.WriteLine(ExitCode switch
        {
            0 => "reconcile: no differences",
            1 => "reconcile: DIFFERENCES found (see above; docs/runbooks/reconcile.md)",
            _ => "reconcile: a check could not finish (see above); the others' findings stand",
        });
    }

    public void WriteJson(TextWriter writer)
    {
        var checks = new JsonArray();
        foreach (var result in Results)
        {
            var findings = new JsonArray();
            foreach (var finding in result.Findings)
            {
                findings.Add(new JsonObject { ["kind"] = KindWord(finding.Kind), ["subject"] = finding.Subject, ["detail"] = finding.Detail });
            }
            checks.Add(new JsonObject
            {
                ["name"] = result.Name,
                ["title"] = result.Title,
                ["result"] = Word(result.Outcome),
                ["compared"] = result.Compared,
                ["repairable"] = result.Count(FindingKind.Repairable),
                ["repaired"] = result.Count(FindingKind.Repaired),
                ["needsPerson"] = result.Count(FindingKind.NeedsPerson),
                ["inFlight"] = result.Count(FindingKind.InFlight),
                ["note"] = result.Note,
                ["findings"] = findings,
            });
        }
        var root = new JsonObject { ["bank"] = Bank, ["repair"] = Repair, ["ok"] = Ok, ["checks"] = checks };
        writer.WriteLine(root.ToJsonString(CustomerViews.JsonOptions));
    }

    private static string Word(ReconcileOutcome outcome) => outcome switch
    {
        ReconcileOutcome.Passed => "ok",
        ReconcileOutcome.Differences => "DIFFERENCES",
        ReconcileOutcome.Failed => "FAILED",
        _ => "not checked",
    };

    private static string KindWord(FindingKind kind) => kind switch
    {
        FindingKind.Repairable => "repairable",
        FindingKind.Repaired => "repaired",
        FindingKind.NeedsPerson => "for a person",
        _ => "in flight",
    };

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Line(string[] cells, int[] widths) =>
        string.Join("  ", cells.Select((cell, column) => column == cells.Length - 1 ? cell : cell.PadRight(widths[column]))).TrimEnd();
}
