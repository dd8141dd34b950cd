using System.Globalization;
using Bulwark.Cli.Commands;
using Bulwark.EventLog;
using Bulwark.Ledger.Events;

namespace Bulwark.Cli.Reconcile;

/// <summary>
/// (e) Ledger vs event log: for every cell, each partition it owns compared with the log's history
/// of it (<see cref="LedgerLogComparison"/>, as <c>bulwark ledger verify</c>): every transfer row
/// once with the same body, every account's balances, every owed leg's state. Reconcile runs beside
/// traffic, so a partition is compared only when the log holds exactly what the store's snapshot
/// holds: the store's last event number of the partition (its outbox, read in the rows' snapshot)
/// equal to the log's last sequence. A partition whose newest events are not published yet (or
/// whose log moved on after the snapshot) is read again, a few times, and if it never settles is
/// listed in flight, not as a difference. A running one-process bank's file log is read as a
/// snapshot beside its writer. Nothing is repaired: republishing is the relay's.
/// </summary>
internal sealed class EventLogCheck : IReconcileCheck
{
    public string Name => "event-log";

    public string Title => "ledger vs event log";

    public async Task<ReconcileCheckResult> RunAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        var bank = context.Bank;
        if (bank.StateDirectory is null && bank.DataDirectory is null)
        {
            return ReconcileCheckResult.NotChecked(this, "not checked: the cells' stores and the log are read directly; reach the cluster with --state instead of --registry");
        }
        if (bank.StateDirectory is { } state && Bulwark.Lab.Cluster.ClusterState.Load(state) is { EventLogAddress: null })
        {
            return ReconcileCheckResult.NotChecked(this, "not checked: the cluster runs no event log (it was started with --nats-servers 0)");
        }
        var (ledger, error) = await LedgerReplayCommands.LocateAsync(bank.DataDirectory, bank.StateDirectory, null, context.StoreUrl, cancellationToken);
        if (ledger is null)
        {
            return ReconcileCheckResult.Failed(this, error ?? "the bank's ledger cannot be found");
        }
        IEventLog log;
        try
        {
            log = await ledger.OpenLog(cancellationToken);
        }
        catch (EventLogException unavailable)
        {
            return ReconcileCheckResult.Failed(this, $"the event log ({ledger.LogDescription}) cannot be read: {unavailable.Message}");
        }
        await using (log)
        {
            var findings = new ReconcileFindings();
            long compared = 0;
            var cells = ledger.Map.Cells.Keys.Order(StringComparer.Ordinal).ToArray();
            foreach (var cell in cells)
            {
                compared += await CompareCellAsync(cell, ledger, log, findings, cancellationToken);
            }
            return findings.Result(this, compared, string.Create(CultureInfo.InvariantCulture, $"{cells.Length} cell(s) against {ledger.LogDescription}"));
        }
    }

    /// <summary>Compares one cell's owned partitions whose log has settled on the store's snapshot, reading again those that have not (bounded). Returns the transfer rows compared.</summary>
    private static async Task<long> CompareCellAsync(string cell, LedgerReplayCommands.LedgerBank ledger, IEventLog log, ReconcileFindings findings, CancellationToken cancellationToken)
    {
        var store = ledger.StoreOf(cell);
        IReadOnlyCollection<int>? wanted = null;
        long compared = 0;
        for (var attempt = 1; ; attempt++)
        {
            var partitions = wanted ?? ledger.Map.PartitionsOf(cell);
            var stored = await Task.Run(() => LedgerCellRows.ReadStore(store, partitions), cancellationToken);
            // Only what the store owns in its own snapshot: a partition moving away meanwhile is its new owner's.
            var owned = partitions.Where(stored.Owned.ContainsKey).ToArray();
            var logged = await LedgerCellRows.ReadLogAsync(log, owned, ledger.Map.PartitionCount, cancellationToken);
            var settled = new List<ReplayPartition>();
            var moving = new List<int>();
            foreach (var partition in owned)
            {
                var events = logged.Partitions.GetValueOrDefault(partition)?.Events ?? 0;
                if (events == stored.Partitions[partition].OutboxSequence)
                {
                    settled.Add(new ReplayPartition(partition, 0));
                }
                else
                {
                    moving.Add(partition);
                }
            }
            var report = LedgerLogComparison.Compare(logged, stored, settled);
            compared += report.TransferRows;
            foreach (var difference in report.Differences)
            {
                findings.Add(FindingKind.NeedsPerson, string.Create(CultureInfo.InvariantCulture, $"cell {cell} partition {difference.Partition}"),
                    $"{Describe(difference.Kind)} {difference.Row}: {difference.Detail}");
            }
            if (report.DifferenceCount > report.Differences.Count)
            {
                findings.Add(FindingKind.NeedsPerson, $"cell {cell}", string.Create(CultureInfo.InvariantCulture,
                    $"{report.DifferenceCount - report.Differences.Count} more differences: bulwark ledger verify --cell {cell} lists them"));
            }
            if (moving.Count == 0)
            {
                return compared;
            }
            if (attempt >= ReconcileLimits.EventLogAttemptsMax)
            {
                foreach (var partition in moving)
                {
                    findings.Add(FindingKind.InFlight, string.Create(CultureInfo.InvariantCulture, $"cell {cell} partition {partition}"),
                        "its newest events were not in the log at any of the reads (the relay is behind, or the partition kept taking writes): run reconcile again, or see docs/runbooks/event-log-lag.md");
                }
                return compared;
            }
            wanted = moving;
            await Task.Delay(TimeSpan.FromSeconds(ReconcileLimits.EventLogRetrySeconds), cancellationToken);
        }
    }

    private static string Describe(LedgerDifferenceKind kind) => kind switch
    {
        LedgerDifferenceKind.Missing => "in the event log, not in the cell's store:",
        LedgerDifferenceKind.Extra => "in the cell's store, not in the event log:",
        LedgerDifferenceKind.Differs => "the store and the log differ on",
        LedgerDifferenceKind.Repeated => "held more than once:",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
