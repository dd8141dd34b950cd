using System.Text.Json;
using Bulwark.Cli.Reconcile;

namespace Bulwark.Cli.Tests.Reconcile;

/// <summary>How reconcile's verdict is read from its checks' results, and how findings are kept.</summary>
public sealed class ReconcileReportTests
{
    [Fact]
    public void ExitCode_PassedAndNotChecked_ZeroInFlightAlone_ZeroRepairedOrForAPerson_OneFailed_Two()
    {
        Assert.Equal(0, Report(Result(ReconcileOutcome.Passed), Result(ReconcileOutcome.NotChecked)).ExitCode);
        Assert.Equal(0, Report(Findings(FindingKind.InFlight)).ExitCode);
        Assert.Equal(1, Report(Findings(FindingKind.Repaired)).ExitCode);
        Assert.Equal(1, Report(Findings(FindingKind.NeedsPerson), Result(ReconcileOutcome.Passed)).ExitCode);
        Assert.Equal(2, Report(Findings(FindingKind.NeedsPerson), Result(ReconcileOutcome.Failed)).ExitCode);
    }

    [Fact]
    public void Findings_BeyondTheListedMax_CountedNotKept_AndTheJsonSaysBoth()
    {
        var findings = new ReconcileFindings();
        for (var i = 0; i < ReconcileLimits.FindingsListedMax + 5; i++)
        {
            findings.Add(FindingKind.NeedsPerson, i.ToString(System.Globalization.CultureInfo.InvariantCulture), "lost");
        }
        var result = findings.Result(new NamedCheck(), compared: 2_000);

        Assert.Equal(ReconcileLimits.FindingsListedMax, result.Findings.Count);
        Assert.Equal(ReconcileLimits.FindingsListedMax + 5, result.Count(FindingKind.NeedsPerson));
        using var writer = new StringWriter();
        Report(result).WriteJson(writer);
        using var json = JsonDocument.Parse(writer.ToString());
        var check = json.RootElement.GetProperty("checks")[0];
        Assert.Equal("DIFFERENCES", check.GetProperty("result").GetString());
        Assert.Equal(ReconcileLimits.FindingsListedMax + 5, check.GetProperty("needsPerson").GetInt64());
        Assert.Equal(ReconcileLimits.FindingsListedMax, check.GetProperty("findings").GetArrayLength());
        Assert.False(json.RootElement.GetProperty("ok").GetBoolean());
        using var table = new StringWriter();
        Report(result).WriteTable(table);
        Assert.Contains("... and 5 more", table.ToString(), StringComparison.Ordinal);
    }

    private static ReconcileReport Report(params ReconcileCheckResult[] results) => new("the bank", Repair: false, results);

    private static ReconcileCheckResult Result(ReconcileOutcome outcome) => new("check", "a check", outcome, 0, []);

    private static ReconcileCheckResult Findings(FindingKind kind)
    {
        var findings = new ReconcileFindings();
        findings.Add(kind, "id", "detail");
        return findings.Result(new NamedCheck(), compared: 1);
    }

    private sealed class NamedCheck : IReconcileCheck
    {
        public string Name => "named";

        public string Title => "a named check";

        public Task<ReconcileCheckResult> RunAsync(ReconcileContext context, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
