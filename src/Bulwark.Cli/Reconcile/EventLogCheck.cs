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
/// listed in flight, not as a difference — unless the relay recorded the missing events as
/// published: those the log lost, and --repair republishes them from the store's outbox when it
/// still holds them (<see cref="LedgerEventRepublisher"/>). A running one-process bank's file log is
/// read as a snapshot beside its writer.
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
        try
        {
            var findings = new ReconcileFindings();
            long compared = 0;
            var cells = ledger.Map.Cells.Keys.Order(StringComparer.Ordinal).ToArray();
            foreach (var cell in cells)
            {
                compared += await CompareCellAsync(cell, ledger, context.Repair, findings, cancellationToken);
            }
            return findings.Result(this, compared, string.Create(CultureInfo.InvariantCulture, $"{cells.Length} cell(s) against {ledger.LogDescription}"));
        }
        catch (EventLogException unavailable)
        {
            return ReconcileCheckResult.Failed(this, $"the event log ({ledger.LogDescription}) cannot be read: {unavailable.Message}");
        }
    }

    /// <summary>
    /// Compares one cell's owned partitions whose log has settled on the store's snapshot, reading
    /// again those that have not (bounded). Returns the transfer rows compared. The log is opened
    /// again after each read of the store: a running bank's file log is read as a snapshot, frozen
    /// when opened, and one opened before the store's read lacks what the relay published since —
    /// which the store then says was published (a full run saw a clean bank's coherence write
    /// reported as lost from the log, its partition never settling on the one snapshot).
    /// </summary>
    private static async Task<long> CompareCellAsync(string cell, LedgerReplayCommands.LedgerBank ledger, bool repair, ReconcileFindings findings, CancellationToken cancellationToken)
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
            LedgerCellRows logged;
            await using (var log = await ledger.OpenLog(cancellationToken))
            {
                logged = await LedgerCellRows.ReadLogAsync(log, owned, ledger.Map.PartitionCount, cancellationToken);
            }
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
                await ResolveUnsettledAsync(cell, ledger, moving, repair, findings, cancellationToken);
                return compared;
            }
            wanted = moving;
            await Task.Delay(TimeSpan.FromSeconds(ReconcileLimits.EventLogRetrySeconds), cancellationToken);
        }
    }

    /// <summary>
    /// The partitions whose log never matched the store's snapshot: events the relay recorded as
    /// published and the log lacks are a difference — republished from the store's outbox with
    /// --repair when the outbox still holds every one of them (<see cref="LedgerEventRepublisher"/>:
    /// the log's duplicate rule makes that safe), for a person when pruning removed some; events the
    /// relay has not sent yet are in flight (it sends them by itself).
    /// </summary>
    private static async Task ResolveUnsettledAsync(string cell, LedgerReplayCommands.LedgerBank ledger, IReadOnlyCollection<int> partitions, bool repair, ReconcileFindings findings, CancellationToken cancellationToken)
    {
        Dictionary<int, MissingEvents> missing;
        await using (var log = await ledger.OpenLog(cancellationToken))
        {
            missing = (await LedgerEventRepublisher.FindMissingAsync(log, ledger.StoreOf(cell), partitions, cancellationToken)).ToDictionary(entry => entry.Partition);
        }
        if (missing.Count > 0)
        {
            // Read again from a log opened after that read of the store: a snapshot does not move
            // on, and an event the relay published and recorded in between is not lost.
            await using var again = await ledger.OpenLog(cancellationToken);
            foreach (var gap in missing.Values.ToArray())
            {
                if (await again.GetLastSequenceAsync(gap.Partition, cancellationToken) > gap.LogLast)
                {
                    missing.Remove(gap.Partition);
                }
            }
        }
        IEventLog? writable = null;
        string? unwritable = null;
        try
        {
            foreach (var partition in partitions.Order())
            {
                var subject = string.Create(CultureInfo.InvariantCulture, $"cell {cell} partition {partition}");
                if (!missing.TryGetValue(partition, out var gap) || !gap.RecordedAsPublished)
                {
                    findings.Add(FindingKind.InFlight, subject,
                        "its newest events were not in the log at any of the reads (the relay is behind, or the partition kept taking writes): run reconcile again, or see docs/runbooks/event-log-lag.md");
                    continue;
                }
                var range = string.Create(CultureInfo.InvariantCulture, $"events {gap.LogLast + 1} to {gap.StoreLast}");
                if (!gap.Republishable)
                {
                    findings.Add(FindingKind.NeedsPerson, subject, string.Create(CultureInfo.InvariantCulture,
                        $"the log lacks {range}, which the relay recorded as published, and the store's outbox holds the partition's events only from {gap.OutboxFirst} (published ones are pruned): restore the log from a copy that has them (docs/runbooks/reconcile.md)"));
                    continue;
                }
                if (!repair)
                {
                    findings.Add(FindingKind.Repairable, subject, $"the log lacks {range}, which the relay recorded as published; the store's outbox holds them: --repair republishes them");
                    continue;
                }
                if (writable is null && unwritable is null)
                {
                    (writable, unwritable) = await OpenWritableAsync(ledger, cancellationToken);
                }
                if (writable is null)
                {
                    findings.Add(FindingKind.Repairable, subject, $"the log lacks {range}, which the store's outbox holds, but the log cannot be written here: {unwritable}");
                    continue;
                }
                findings.Add(await RepublishAsync(writable, cell, gap, subject, range, cancellationToken));
            }
        }
        finally
        {
            if (writable is not null)
            {
                await writable.DisposeAsync();
            }
        }
    }

    private static async Task<(IEventLog? Log, string? Why)> OpenWritableAsync(LedgerReplayCommands.LedgerBank ledger, CancellationToken cancellationToken)
    {
        if (ledger.OpenWritableLog is not { } open)
        {
            return (null, "no writer for this log");
        }
        try
        {
            return (await open(cancellationToken), null);
        }
        catch (EventLogException error) when (error.Error == EventLogError.Locked)
        {
            return (null, $"{ledger.LogDescription} is held by the running bank (one writer per file log): restart the bank, whose relay puts back at start what its outbox holds (docs/runbooks/reconcile.md)");
        }
        catch (EventLogException error)
        {
            return (null, error.Message);
        }
    }

    private static async Task<ReconcileFinding> RepublishAsync(IEventLog log, string cell, MissingEvents gap, string subject, string range, CancellationToken cancellationToken)
    {
        try
        {
            var result = await LedgerEventRepublisher.RepublishAsync(log, cell, gap, cancellationToken);
            return new ReconcileFinding(FindingKind.Repaired, subject, string.Create(CultureInfo.InvariantCulture,
                $"republished {range} from the store's outbox: {result.Appended} appended, {result.Duplicates} already in the log"));
        }
        catch (EventLogException error) when (error.Error is EventLogError.Conflict or EventLogError.Gap)
        {
            // A different event at the same place, or the log lost more meanwhile: never forced.
            return new ReconcileFinding(FindingKind.NeedsPerson, subject, $"republishing {range} was refused by the log ({error.Error}: {error.Message}): a person must look");
        }
        catch (EventLogException error)
        {
            return new ReconcileFinding(FindingKind.Repairable, subject, $"republishing {range} failed ({error.Error}: {error.Message}): run reconcile --repair again");
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
