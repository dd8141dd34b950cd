using System.Diagnostics;
using System.Globalization;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Placement;
using Grpc.Core;

namespace Bulwark.Ledger.Cells;

/// <summary>Tunables of a move.</summary>
public sealed record PartitionMoveOptions
{
    /// <summary>How long the source stays paused without its release before it serves the partition again by itself.</summary>
    public int PauseLeaseMilliseconds { get; init; } = LedgerLimits.MovePauseLeaseMillisecondsDefault;

    /// <summary>The copy is paused for once a catch-up round brings at most this many new rows.</summary>
    public int CatchUpRowsBeforePause { get; init; } = 200;

    /// <summary>Catch-up rounds before giving up (the partition takes writes faster than it copies).</summary>
    public int CatchUpRoundsMax { get; init; } = 10_000;

    /// <summary>How long the source keeps its copy after the flip (readers with an old map still get a clear refusal, and an operator can look at it) before deleting it.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Times the copy is paused and verified before the move gives up, when a pause is rolled back (its lease ran out, or the copy differed).</summary>
    public int PauseAttemptsMax { get; init; } = 3;

    /// <summary>False: the mover leaves the old owner's copy (a rebalance drops every copy once, after one grace period, with <see cref="PartitionMover.DropCopyAsync"/>).</summary>
    public bool DropCopy { get; init; } = true;

    /// <summary>The deadline of each call to a cell.</summary>
    public TimeSpan CallDeadline { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>Where a move is, for progress lines and tests.</summary>
public sealed record PartitionMoveReport(int Partition, string Step, string Source, string Target, long Rows, TimeSpan? Pause = null);

/// <summary>What a finished move did.</summary>
public sealed record PartitionMoveResult(int Partition, string Source, string Target, long NewEpoch, long Accounts, long TransferRows, TimeSpan Pause, TimeSpan Total,
    bool AlreadyThere);

/// <summary>A move the mover refuses or cannot finish; the message says why and what to do.</summary>
public sealed class PartitionMoveException : Exception
{
    public PartitionMoveException()
    {
    }

    public PartitionMoveException(string message)
        : base(message)
    {
    }

    public PartitionMoveException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Moves one partition to another cell (docs/internals/cells.md, "Moving a partition"): copy, catch
/// up, pause the source, catch up the last rows, verify (digests equal), release at the source, own
/// at the target (which refuses without a verified copy), flip the map with a compare-and-set, and
/// after the grace period delete the source's copy. It keeps no state of its own: every run reads
/// where the move is from the map and the two cells and takes the next step, so running it again
/// after any crash — of the mover, the source, the target, or the map's store — resumes the move,
/// or finds the pause rolled back by its lease and starts the copy over from where it got to.
/// </summary>
public sealed class PartitionMover(IPlacementStore placement, Func<string, LedgerCellAdmin.LedgerCellAdminClient> cellClient, PartitionMoveOptions? options = null)
{
    private readonly PartitionMoveOptions _options = options ?? new PartitionMoveOptions();

    public async Task<PartitionMoveResult> MoveAsync(int partition, string target, IProgress<PartitionMoveReport>? progress = null, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        var read = await ReadMapAsync(cancellationToken);
        var map = read.Map!;
        if (partition < 0 || partition >= map.PartitionCount)
        {
            throw new PartitionMoveException(Invariant($"There is no partition {partition}: partitions are 0 to {map.PartitionCount - 1}."));
        }
        if (!map.Cells.ContainsKey(target))
        {
            throw new PartitionMoveException($"There is no cell '{target}' in the placement map (cells: {string.Join(", ", map.Cells.Keys.Order(StringComparer.Ordinal))}). Add it first: bulwark cells add {target}.");
        }
        var source = map.CellOf(partition);
        var epoch = map.EpochOf(partition);
        if (source == target)
        {
            // Already there: perhaps this is a rerun after the flip, with the old owner's copy left.
            await DropReleasedCopiesAsync(map, partition, target, progress, cancellationToken);
            return new PartitionMoveResult(partition, source, target, epoch, 0, 0, TimeSpan.Zero, Stopwatch.GetElapsedTime(started), AlreadyThere: true);
        }
        var sourceRow = await OwnerRowAsync(source, partition, cancellationToken);
        var pause = TimeSpan.Zero;
        long accounts = 0;
        long rows = 0;
        var released = sourceRow is { State: OwnerState.Released } && sourceRow.OwnerCell == target && (long)sourceRow.OwnerEpoch == epoch + 1;
        if (!released)
        {
            if (sourceRow is null || (long)sourceRow.Epoch != epoch || sourceRow.State is not (OwnerState.Owned or OwnerState.Moving))
            {
                throw new PartitionMoveException(Invariant(
                    $"The map says cell {source} owns partition {partition} at epoch {epoch}, but the cell says {Describe(sourceRow)}. Nothing was changed; see docs/runbooks/ledger-cells.md."));
            }
            if (sourceRow.State == OwnerState.Moving && sourceRow.OwnerCell != target)
            {
                throw new PartitionMoveException($"Partition {partition} is paused for a move to cell {sourceRow.OwnerCell}: finish it (bulwark cells move {partition} --to {sourceRow.OwnerCell}) or let its pause run out first.");
            }
            await RefuseOtherImportsAsync(map, partition, target, cancellationToken);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    (pause, accounts, rows) = await CopyVerifyReleaseAsync(partition, source, epoch, target, progress, cancellationToken);
                    break;
                }
                catch (PartitionMoveException error) when (attempt < _options.PauseAttemptsMax && error.InnerException is RpcException { StatusCode: StatusCode.FailedPrecondition })
                {
                    // The pause was rolled back (its lease ran out on a slow machine, or the copy
                    // differed): if the source serves again, nothing was released. Catch up and pause again.
                    if (await OwnerRowAsync(source, partition, cancellationToken) is not { State: OwnerState.Owned })
                    {
                        throw;
                    }
                    progress?.Report(new PartitionMoveReport(partition, "retry", source, target, attempt));
                }
            }
        }
        progress?.Report(new PartitionMoveReport(partition, "own", source, target, rows));
        var owned = await CallAsync(target, (client, headers, deadline) =>
            client.OwnPartitionAsync(new OwnPartitionRequest { Partition = (uint)partition, SourceCell = source, SourceEpoch = (ulong)epoch }, headers, deadline), cancellationToken);
        await FlipAsync(partition, source, epoch, target, progress, cancellationToken);
        if (!_options.DropCopy)
        {
            progress?.Report(new PartitionMoveReport(partition, "flipped", source, target, rows));
            return new PartitionMoveResult(partition, source, target, (long)owned.Epoch, accounts, rows, pause, Stopwatch.GetElapsedTime(started), AlreadyThere: false);
        }
        progress?.Report(new PartitionMoveReport(partition, "grace", source, target, rows));
        await Task.Delay(_options.Grace, cancellationToken);
        var deleted = await CallAsync(source, (client, headers, deadline) =>
            client.DropPartitionCopyAsync(new PartitionRequest { Partition = (uint)partition }, headers, deadline), cancellationToken);
        progress?.Report(new PartitionMoveReport(partition, "done", source, target, deleted.RowsDeleted));
        return new PartitionMoveResult(partition, source, target, (long)owned.Epoch, accounts, rows, pause, Stopwatch.GetElapsedTime(started), AlreadyThere: false);
    }

    private async Task<(TimeSpan Pause, long Accounts, long Rows)> CopyVerifyReleaseAsync(int partition, string source, long epoch, string target,
        IProgress<PartitionMoveReport>? progress, CancellationToken cancellationToken)
    {
        await CallAsync(target, (client, headers, deadline) => client.BeginImportAsync(
            new BeginImportRequest { Partition = (uint)partition, SourceCell = source, SourceEpoch = (ulong)epoch }, headers, deadline), cancellationToken);
        long copied = 0;
        var prepared = false;
        // Copy and catch up while the source takes writes, until a round brings only a few rows.
        for (var round = 0; ; round++)
        {
            if (round >= _options.CatchUpRoundsMax)
            {
                throw new PartitionMoveException(Invariant($"Partition {partition} did not catch up in {round} rounds: it takes writes faster than it copies. Nothing was paused; try again at a quieter time."));
            }
            var (brought, more) = await CopyRoundAsync(partition, source, target, cancellationToken);
            copied += brought;
            progress?.Report(new PartitionMoveReport(partition, "copy", source, target, copied));
            if (!more && brought <= _options.CatchUpRowsBeforePause)
            {
                if (prepared)
                {
                    break;
                }
                // Both sides hash their settled rows now, while the source still takes writes, so
                // that the pause hashes only what may still change; then one more round brings
                // what was written meanwhile.
                progress?.Report(new PartitionMoveReport(partition, "hash", source, target, copied));
                await Task.WhenAll(PrepareDigestAsync(source, partition, cancellationToken), PrepareDigestAsync(target, partition, cancellationToken));
                prepared = true;
            }
        }
        var paused = Stopwatch.GetTimestamp();
        progress?.Report(new PartitionMoveReport(partition, "pause", source, target, copied));
        await RenewPauseAsync(partition, source, epoch, target, cancellationToken);
        try
        {
            bool more;
            do
            {
                long brought;
                (brought, more) = await CopyRoundAsync(partition, source, target, cancellationToken);
                copied += brought;
                if (more)
                {
                    await RenewPauseAsync(partition, source, epoch, target, cancellationToken);
                }
            }
            while (more);
            progress?.Report(new PartitionMoveReport(partition, "verify", source, target, copied));
            // Each step while paused renews the pause: it ends by itself only when the mover stops.
            await RenewPauseAsync(partition, source, epoch, target, cancellationToken);
            var digest = await CallAsync(source, (client, headers, deadline) =>
                client.DigestPartitionAsync(new PartitionRequest { Partition = (uint)partition }, headers, deadline), cancellationToken);
            await CallAsync(target, (client, headers, deadline) => client.VerifyImportAsync(new VerifyImportRequest
            {
                Partition = (uint)partition,
                SourceCell = source,
                SourceEpoch = (ulong)epoch,
                SourceDigest = digest,
            }, headers, deadline), cancellationToken);
            progress?.Report(new PartitionMoveReport(partition, "release", source, target, copied));
            await RenewPauseAsync(partition, source, epoch, target, cancellationToken);
            await CallAsync(source, (client, headers, deadline) => client.ReleasePartitionAsync(new ReleasePartitionRequest
            {
                Partition = (uint)partition,
                Epoch = (ulong)epoch,
                TargetCell = target,
                Sha256 = digest.Sha256,
            }, headers, deadline), cancellationToken);
            var pause = Stopwatch.GetElapsedTime(paused);
            progress?.Report(new PartitionMoveReport(partition, "released", source, target, copied, pause));
            return (pause, digest.Accounts, digest.Transfers);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // Before the release nothing is lost by going back: serve the partition at the source
            // again now rather than when the lease runs out. If this fails too, the lease does it.
            try
            {
                await CallAsync(source, (client, headers, deadline) =>
                    client.ResumePartitionAsync(new PartitionRequest { Partition = (uint)partition }, headers, deadline), CancellationToken.None);
            }
            catch (Exception resumeError) when (resumeError is RpcException or PartitionMoveException)
            {
                // The lease rolls the pause back by itself.
            }
            throw;
        }
    }

    /// <summary>
    /// Hashes a cell's settled rows of the partition ahead of the pause. Only saves time: a cell of
    /// an older version, which cannot, or one that takes longer than a call, hashes everything in
    /// the pause instead.
    /// </summary>
    private async Task PrepareDigestAsync(string cell, int partition, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(cell, (client, headers, deadline) => client.PrepareDigestAsync(new PartitionRequest { Partition = (uint)partition }, headers, deadline), cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.Unimplemented)
        {
        }
        catch (PartitionMoveException error) when (error.InnerException is RpcException { StatusCode: StatusCode.DeadlineExceeded } && !cancellationToken.IsCancellationRequested)
        {
            // A partition too big to hash in one call's time: the pause hashes it whole, as before.
        }
    }

    /// <summary>Pauses the partition at the source, or renews the pause's lease when it is already paused for this move.</summary>
    private Task<PartitionOwnerRow> RenewPauseAsync(int partition, string source, long epoch, string target, CancellationToken cancellationToken) =>
        CallAsync(source, (client, headers, deadline) => client.PausePartitionAsync(new PausePartitionRequest
        {
            Partition = (uint)partition,
            Epoch = (ulong)epoch,
            TargetCell = target,
            LeaseMilliseconds = (uint)_options.PauseLeaseMilliseconds,
        }, headers, deadline), cancellationToken);

    /// <summary>One export from the source into the copy; returns the new rows it brought and whether more wait.</summary>
    private async Task<(long Rows, bool More)> CopyRoundAsync(int partition, string source, string target, CancellationToken cancellationToken)
    {
        var progress = await CallAsync(target, (client, headers, deadline) =>
            client.GetImportProgressAsync(new PartitionRequest { Partition = (uint)partition }, headers, deadline), cancellationToken);
        var request = new ExportPartitionRequest { Partition = (uint)partition, AfterSequence = progress.Watermark };
        request.RefreshHolds.AddRange(progress.PendingHolds);
        request.RefreshOwedLegs.AddRange(progress.OpenOwedLegs);
        var rows = await CallAsync(source, (client, headers, deadline) => client.ExportPartitionAsync(request, headers, deadline), cancellationToken);
        await CallAsync(target, (client, headers, deadline) =>
            client.ImportPartitionAsync(new ImportPartitionRequest { Rows = rows, ExpectedWatermark = progress.Watermark }, headers, deadline), cancellationToken);
        return (rows.Transfers.Count, rows.More);
    }

    private async Task FlipAsync(int partition, string source, long epoch, string target, IProgress<PartitionMoveReport>? progress, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var read = await ReadMapAsync(cancellationToken);
            var map = read.Map!;
            if (map.CellOf(partition) == target && map.EpochOf(partition) == epoch + 1)
            {
                return;
            }
            if (map.CellOf(partition) != source || map.EpochOf(partition) != epoch)
            {
                throw new PartitionMoveException(Invariant(
                    $"The placement map changed under the move: partition {partition} is now at cell {map.CellOf(partition)} epoch {map.EpochOf(partition)}, not {source} at {epoch}. Cell {target} owns it at epoch {epoch + 1}; see docs/runbooks/ledger-cells.md."));
            }
            progress?.Report(new PartitionMoveReport(partition, "flip", source, target, 0));
            var result = await PlacementCallAsync(() => placement.ReplaceAsync(read, map.WithMove(partition, target), cancellationToken), "changed", cancellationToken);
            if (result.Succeeded)
            {
                return;
            }
            // Another change won the compare-and-set (another move's flip): read again and retry.
        }
        throw new PartitionMoveException(Invariant($"The placement map kept changing: partition {partition}'s flip to cell {target} did not go through. Run the move again to finish it."));
    }

    /// <summary>Deletes the copy <paramref name="cell"/> kept of a partition it gave away; returns the rows deleted.</summary>
    public async Task<long> DropCopyAsync(string cell, int partition, CancellationToken cancellationToken = default) =>
        (await CallAsync(cell, (client, headers, deadline) => client.DropPartitionCopyAsync(new PartitionRequest { Partition = (uint)partition }, headers, deadline), cancellationToken)).RowsDeleted;

    private async Task DropReleasedCopiesAsync(PlacementMap map, int partition, string owner, IProgress<PartitionMoveReport>? progress, CancellationToken cancellationToken)
    {
        foreach (var cell in map.Cells.Keys.Where(cell => cell != owner))
        {
            var row = await OwnerRowAsync(cell, partition, cancellationToken);
            if (row is { State: OwnerState.Released } && row.OwnerCell == owner)
            {
                var deleted = await CallAsync(cell, (client, headers, deadline) =>
                    client.DropPartitionCopyAsync(new PartitionRequest { Partition = (uint)partition }, headers, deadline), cancellationToken);
                progress?.Report(new PartitionMoveReport(partition, "done", cell, owner, deleted.RowsDeleted));
            }
        }
    }

    private async Task RefuseOtherImportsAsync(PlacementMap map, int partition, string target, CancellationToken cancellationToken)
    {
        foreach (var cell in map.Cells.Keys.Where(cell => cell != target))
        {
            var status = await CallAsync(cell, (client, headers, deadline) => client.GetCellStatusAsync(new GetCellStatusRequest(), headers, deadline), cancellationToken);
            if (status.Imports.Any(import => import.Partition == partition))
            {
                throw new PartitionMoveException($"Cell {cell} is importing partition {partition} (another move of it was started): finish that move, or abort it with bulwark cells abort {partition} --cell {cell}.");
            }
        }
    }

    private async Task<PartitionOwnerRow?> OwnerRowAsync(string cell, int partition, CancellationToken cancellationToken)
    {
        var status = await CallAsync(cell, (client, headers, deadline) => client.GetCellStatusAsync(new GetCellStatusRequest(), headers, deadline), cancellationToken);
        return status.Owners.FirstOrDefault(row => row.Partition == partition);
    }

    private async Task<PlacementRead> ReadMapAsync(CancellationToken cancellationToken)
    {
        var read = await PlacementCallAsync(() => placement.ReadAsync(cancellationToken), "read", cancellationToken)
            ?? throw new PartitionMoveException("There is no placement map yet: start the bank (bulwark run) or the cluster (bulwark cluster up) first.");
        if (read.Map is null)
        {
            throw new PartitionMoveException($"The stored placement map cannot be used ({read.Error?.Message}): nothing is moved while it is broken. See docs/runbooks/ledger-cells.md.");
        }
        return read;
    }

    /// <summary>
    /// A call to the placement store (etcd in a cluster): one that fails or does not answer in its
    /// bound stops the move with a line saying so. The move resumes from where it stopped when run
    /// again (after the release, callers of the old owner are told the new one meanwhile).
    /// </summary>
    private static async Task<T> PlacementCallAsync<T>(Func<Task<T>> call, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await call();
        }
        catch (Exception error) when (error is not PartitionMoveException && !cancellationToken.IsCancellationRequested)
        {
            throw new PartitionMoveException($"The placement map could not be {what} ({error.Message}). The move stopped where it was and resumes when run again.", error);
        }
    }

    private async Task<T> CallAsync<T>(string cell, Func<LedgerCellAdmin.LedgerCellAdminClient, Metadata, DateTime, AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
    {
        var headers = new Metadata { { LedgerCells.CellHeader, cell } };
        try
        {
            using var running = call(cellClient(cell), headers, DateTime.UtcNow + _options.CallDeadline);
            return await running.ResponseAsync.WaitAsync(cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.FailedPrecondition)
        {
            throw new PartitionMoveException($"Cell {cell} refused: {error.Status.Detail}", error);
        }
        catch (RpcException error) when (error.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown
            || (error.StatusCode == StatusCode.Cancelled && !cancellationToken.IsCancellationRequested))
        {
            throw new PartitionMoveException($"Cell {cell} did not answer ({error.StatusCode}: {error.Status.Detail}). The move stopped where it was and resumes when run again.", error);
        }
    }

    private static string Describe(PartitionOwnerRow? row) => row is null
        ? "it does not own it"
        : Invariant($"{row.State} at epoch {row.Epoch}") + (row.OwnerCell.Length > 0 ? $" (owner {row.OwnerCell} at {row.OwnerEpoch})" : "");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
