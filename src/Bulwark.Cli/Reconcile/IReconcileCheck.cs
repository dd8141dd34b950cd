namespace Bulwark.Cli.Reconcile;

/// <summary>
/// One independent comparison of <c>bulwark reconcile</c>: two records of the same money that
/// must agree. A check reads what it needs through <see cref="ReconcileContext"/>, reports every
/// difference it finds, and repairs only when <see cref="ReconcileContext.Repair"/> is set and the
/// repair is provably safe (idempotent, from a durable record naming exactly what to write);
/// anything else it lists for a person. A check that cannot run here says so
/// (<see cref="ReconcileOutcome.NotChecked"/>) instead of passing.
/// </summary>
internal interface IReconcileCheck
{
    /// <summary>Short stable name, used in the table and the JSON (e.g. "movements").</summary>
    string Name { get; }

    /// <summary>What is compared with what, for people (e.g. "accounts records vs ledger transfers").</summary>
    string Title { get; }

    Task<ReconcileCheckResult> RunAsync(ReconcileContext context, CancellationToken cancellationToken);
}

/// <summary>How one check ended.</summary>
internal enum ReconcileOutcome
{
    /// <summary>Both sides agree (in-flight items listed, not counted).</summary>
    Passed,

    /// <summary>At least one difference (repaired or not).</summary>
    Differences,

    /// <summary>The check did not run here; the note says why. Not a pass.</summary>
    NotChecked,

    /// <summary>The check could not finish (a service did not answer, a store could not be read); the note says why. Exit 2.</summary>
    Failed,
}

/// <summary>What one finding is.</summary>
internal enum FindingKind
{
    /// <summary>A difference that --repair can fix safely (not repaired in this run).</summary>
    Repairable,

    /// <summary>A difference this run repaired; the detail says what it wrote.</summary>
    Repaired,

    /// <summary>A difference no tool may repair by itself: a person decides.</summary>
    NeedsPerson,

    /// <summary>Work under way that the bank finishes by itself (a credit leg owed, a stand-in approval queued): not a difference.</summary>
    InFlight,
}

/// <summary>One finding: what it is about (an id), and what was seen or done.</summary>
internal sealed record ReconcileFinding(FindingKind Kind, string Subject, string Detail);

/// <summary>What one check found: how many items it compared, and its findings (at most <see cref="ReconcileLimits.FindingsListedMax"/> listed).</summary>
internal sealed record ReconcileCheckResult(string Name, string Title, ReconcileOutcome Outcome, long Compared, IReadOnlyList<ReconcileFinding> Findings, string? Note = null)
{
    /// <summary>Findings beyond those listed, by kind (counted, not kept).</summary>
    public IReadOnlyDictionary<FindingKind, long> Counts { get; init; } = new Dictionary<FindingKind, long>();

    public long Count(FindingKind kind) => Counts.TryGetValue(kind, out var count) ? count : Findings.Count(finding => finding.Kind == kind);

    public static ReconcileCheckResult NotChecked(IReconcileCheck check, string why) =>
        new(check.Name, check.Title, ReconcileOutcome.NotChecked, 0, [], why);

    public static ReconcileCheckResult Failed(IReconcileCheck check, string why) =>
        new(check.Name, check.Title, ReconcileOutcome.Failed, 0, [], why);
}

/// <summary>Collects a check's findings: every one counted, the first <see cref="ReconcileLimits.FindingsListedMax"/> kept.</summary>
internal sealed class ReconcileFindings
{
    private readonly List<ReconcileFinding> _listed = [];
    private readonly Dictionary<FindingKind, long> _counts = [];

    public void Add(ReconcileFinding finding) => Add(finding.Kind, finding.Subject, finding.Detail);

    public void Add(FindingKind kind, string subject, string detail)
    {
        _counts[kind] = _counts.GetValueOrDefault(kind) + 1;
        if (_listed.Count < ReconcileLimits.FindingsListedMax)
        {
            _listed.Add(new ReconcileFinding(kind, subject, detail));
        }
    }

    public bool AnyDifference => _counts.Keys.Any(kind => kind != FindingKind.InFlight);

    public ReconcileCheckResult Result(IReconcileCheck check, long compared, string? note = null) =>
        new(check.Name, check.Title, AnyDifference ? ReconcileOutcome.Differences : ReconcileOutcome.Passed, compared, [.. _listed], note)
        {
            Counts = new Dictionary<FindingKind, long>(_counts),
        };
}
