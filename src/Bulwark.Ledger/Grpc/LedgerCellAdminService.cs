using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Google.Protobuf;
using Grpc.Core;

namespace Bulwark.Ledger.Grpc;

/// <summary>
/// The steps of partition moves over gRPC (Protos/ledger_cells.proto), for the mover. A step the
/// cell refuses (not in the state the step expects) is FAILED_PRECONDITION with the reason; one the
/// store could not write is UNAVAILABLE (nothing written: run the move again); a bad argument is
/// INVALID_ARGUMENT naming the field.
/// </summary>
internal sealed class LedgerCellAdminService(LedgerCells cells) : LedgerCellAdmin.LedgerCellAdminBase
{
    public override Task<CellStatus> GetCellStatus(GetCellStatusRequest request, ServerCallContext context) =>
        Guard(context, engine => Task.FromResult(LedgerMoveMapping.Status(engine)));

    public override Task<ImportProgress> BeginImport(BeginImportRequest request, ServerCallContext context) =>
        Guard(context, async engine => LedgerMoveMapping.ToProto(await engine.BeginImportAsync(
            Partition(engine, request.Partition), Cell("source_cell", request.SourceCell), Epoch("source_epoch", request.SourceEpoch), context.CancellationToken)));

    public override Task<ImportProgress> GetImportProgress(PartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            var progress = await engine.GetImportProgressAsync(Partition(engine, request.Partition), context.CancellationToken);
            var reply = LedgerMoveMapping.ToProto(progress.Record);
            reply.PendingHolds.AddRange(progress.PendingHolds.Select(id => id.ToProto()));
            reply.OpenOwedLegs.AddRange(progress.OpenOwedLegs.Select(id => id.ToProto()));
            return reply;
        });

    public override Task<PartitionRows> ExportPartition(ExportPartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            var partition = Partition(engine, request.Partition);
            if (request.AfterSequence < 0)
            {
                throw Invalid("after_sequence", "must not be negative");
            }
            if (request.Limit > LedgerLimits.MoveRowsPerChunk)
            {
                throw Invalid("limit", $"at most {LedgerLimits.MoveRowsPerChunk}");
            }
            var rows = await engine.ExportPartitionAsync(partition, request.AfterSequence, (int)request.Limit,
                request.RefreshHolds.Select(id => id.ToUInt128()).ToArray(), request.RefreshOwedLegs.Select(id => id.ToUInt128()).ToArray(),
                context.CancellationToken);
            var owner = engine.Ownership[partition];
            return LedgerMoveMapping.ToProto(partition, engine.Options.CellName, owner.Epoch, rows);
        });

    public override Task<ImportProgress> ImportPartition(ImportPartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            var rows = request.Rows ?? throw Invalid("rows", "required");
            var partition = Partition(engine, rows.Partition);
            var set = LedgerMoveMapping.ToLedger(rows);
            return LedgerMoveMapping.ToProto(await engine.ImportPartitionAsync(partition, Cell("rows.cell", rows.Cell), Epoch("rows.epoch", rows.Epoch), set,
                request.ExpectedWatermark, context.CancellationToken));
        });

    public override Task<PartitionOwnerRow> PausePartition(PausePartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            var lease = request.LeaseMilliseconds == 0 ? LedgerLimits.MovePauseLeaseMillisecondsDefault : (int)Math.Min(request.LeaseMilliseconds, int.MaxValue);
            if (lease > LedgerLimits.MovePauseLeaseMillisecondsMax)
            {
                throw Invalid("lease_milliseconds", $"at most {LedgerLimits.MovePauseLeaseMillisecondsMax}");
            }
            return LedgerMoveMapping.ToProto(await engine.PausePartitionAsync(Partition(engine, request.Partition), Epoch("epoch", request.Epoch),
                Cell("target_cell", request.TargetCell), lease, context.CancellationToken));
        });

    public override Task<PartitionOwnerRow> ResumePartition(PartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine => LedgerMoveMapping.ToProto(await engine.ResumePartitionAsync(Partition(engine, request.Partition), context.CancellationToken)));

    public override Task<PreparedDigest> PrepareDigest(PartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            var partition = Partition(engine, request.Partition);
            var (prefix, kept) = await engine.PrepareDigestAsync(partition, context.CancellationToken);
            return new PreparedDigest
            {
                Partition = (uint)partition,
                Transfers = prefix.Transfers,
                ThroughSequence = prefix.ThroughSequence,
                Pending = prefix.Pending.Count,
                Kept = kept,
            };
        });

    public override Task<Protos.PartitionDigest> DigestPartition(PartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            var partition = Partition(engine, request.Partition);
            return LedgerMoveMapping.ToProto(partition, await engine.DigestPartitionAsync(partition, context.CancellationToken));
        });

    public override Task<ImportProgress> VerifyImport(VerifyImportRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            var digest = request.SourceDigest ?? throw Invalid("source_digest", "required");
            if (digest.Sha256.Length != 32)
            {
                throw Invalid("source_digest.sha256", "must be 32 bytes");
            }
            return LedgerMoveMapping.ToProto(await engine.VerifyImportAsync(Partition(engine, request.Partition), Cell("source_cell", request.SourceCell),
                Epoch("source_epoch", request.SourceEpoch), LedgerMoveMapping.ToLedger(digest), context.CancellationToken));
        });

    public override Task<PartitionOwnerRow> ReleasePartition(ReleasePartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine =>
        {
            if (request.Sha256.Length != 32)
            {
                throw Invalid("sha256", "must be 32 bytes");
            }
            return LedgerMoveMapping.ToProto(await engine.ReleasePartitionAsync(Partition(engine, request.Partition), Epoch("epoch", request.Epoch),
                Cell("target_cell", request.TargetCell), request.Sha256.ToByteArray(), context.CancellationToken));
        });

    public override Task<PartitionOwnerRow> OwnPartition(OwnPartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine => LedgerMoveMapping.ToProto(await engine.OwnPartitionAsync(Partition(engine, request.Partition),
            Cell("source_cell", request.SourceCell), Epoch("source_epoch", request.SourceEpoch), context.CancellationToken)));

    public override Task<DropPartitionCopyResponse> DropPartitionCopy(PartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine => new DropPartitionCopyResponse
        {
            RowsDeleted = await engine.DropPartitionCopyAsync(Partition(engine, request.Partition), abortImport: false, context.CancellationToken),
        });

    public override Task<DropPartitionCopyResponse> AbortImport(PartitionRequest request, ServerCallContext context) =>
        Guard(context, async engine => new DropPartitionCopyResponse
        {
            RowsDeleted = await engine.DropPartitionCopyAsync(Partition(engine, request.Partition), abortImport: true, context.CancellationToken),
        });

    private async Task<T> Guard<T>(ServerCallContext context, Func<LedgerEngine, Task<T>> call)
    {
        var engine = cells.For(context);
        try
        {
            return await call(engine);
        }
        catch (LedgerMoveRefusedException error)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, error.Message));
        }
        catch (LedgerUnavailableException error)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, error.Message));
        }
        catch (ArgumentException error)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, error.Message));
        }
    }

    private static int Partition(LedgerEngine engine, uint partition) =>
        partition < (uint)engine.Options.PartitionCount ? (int)partition : throw Invalid("partition", $"must be 0 to {engine.Options.PartitionCount - 1}");

    private static string Cell(string field, string cell) =>
        string.IsNullOrWhiteSpace(cell) || cell.Length > 32 ? throw Invalid(field, "must name a cell (1 to 32 characters)") : cell;

    private static long Epoch(string field, ulong epoch) =>
        epoch is >= 1 and <= long.MaxValue ? (long)epoch : throw Invalid(field, "must be 1 or more");

    private static RpcException Invalid(string field, string message) => new(new Status(StatusCode.InvalidArgument, $"{field}: {message}."));
}

/// <summary>The move contract's messages to and from the engine's records (every stored field, unlike the submit mapping).</summary>
public static class LedgerMoveMapping
{
    public static CellStatus Status(LedgerEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var ownership = engine.Ownership;
        var status = new CellStatus { Cell = ownership.Cell, ClusterId = ownership.ClusterId, PartitionCount = (uint)ownership.PartitionCount };
        status.Owners.AddRange(ownership.Rows.Where(row => row.State != OwnershipState.None).Select(ToProto));
        status.Imports.AddRange(engine.Imports.Values.OrderBy(import => import.Partition).Select(ToProto));
        status.BehindLog.AddRange(ownership.BehindLog.Order().Select(partition => (uint)partition));
        return status;
    }

    public static PartitionOwnerRow ToProto(PartitionOwnership row) => new()
    {
        Partition = (uint)row.Partition,
        Epoch = (ulong)row.Epoch,
        State = (OwnerState)row.State,
        OwnerCell = row.OwnerCell ?? "",
        OwnerEpoch = (ulong)row.OwnerEpoch,
        LeaseUntilUnixMs = row.LeaseUntilUnixMs,
    };

    public static PartitionOwnership ToLedger(PartitionOwnerRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new PartitionOwnership((int)row.Partition, (long)row.Epoch, (OwnershipState)row.State, row.OwnerCell, (long)row.OwnerEpoch, row.LeaseUntilUnixMs);
    }

    public static ImportProgress ToProto(PartitionImportRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new ImportProgress
        {
            Partition = (uint)record.Partition,
            SourceCell = record.SourceCell,
            SourceEpoch = (ulong)record.SourceEpoch,
            Watermark = record.Watermark,
            State = (ImportState)record.State,
        };
    }

    public static Protos.PartitionDigest ToProto(int partition, PartitionDigestValue digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        return new Protos.PartitionDigest
        {
            Partition = (uint)partition,
            Sha256 = ByteString.CopyFrom(digest.Sha256),
            Accounts = digest.Accounts,
            Transfers = digest.Transfers,
            OwedLegs = digest.OwedLegs,
            LastSequence = digest.LastSequence,
            EventSequence = digest.EventSequence,
        };
    }

    public static PartitionDigestValue ToLedger(Protos.PartitionDigest digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        return new PartitionDigestValue(digest.Sha256.ToByteArray(), digest.Accounts, digest.Transfers, digest.OwedLegs, digest.LastSequence, digest.EventSequence);
    }

    public static PartitionRows ToProto(int partition, string cell, long epoch, PartitionRowSet rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var proto = new PartitionRows
        {
            Partition = (uint)partition,
            Cell = cell,
            Epoch = (ulong)epoch,
            Watermark = rows.Watermark,
            More = rows.More,
        };
        proto.Accounts.AddRange(rows.Accounts.Select(account => account.ToProto()));
        proto.Transfers.AddRange(rows.Transfers.Select(transfer => transfer.ToProto()));
        proto.Refreshed.AddRange(rows.Refreshed.Select(transfer => transfer.ToProto()));
        proto.OwedLegs.AddRange(rows.OwedLegs.Select(owed => new OwedLeg { Leg = owed.Leg.ToProto(), State = (uint)owed.State }));
        return proto;
    }

    public static PartitionRowSet ToLedger(PartitionRows rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return new PartitionRowSet(
            rows.Accounts.Select(account => account.ToLedger() with { CreatedAtUnixMs = account.CreatedAtUnixMs }).ToArray(),
            rows.Transfers.Select(Stored).ToArray(),
            rows.Refreshed.Select(Stored).ToArray(),
            // Owed legs are exported with the partition that owes them: the one exported.
            rows.OwedLegs.Select(owed => new OwedCreditLeg(
                (int)rows.Partition,
                Stored(owed.Leg ?? throw new ArgumentException("owed_legs: a leg is required.")),
                owed.State <= (uint)OwedLegState.Returned ? (OwedLegState)owed.State : throw new ArgumentException($"owed_legs: state {owed.State} is not one this ledger knows."))).ToArray(),
            rows.Watermark,
            rows.More);
    }

    private static LedgerTransfer Stored(Transfer transfer) => transfer.ToLedger() with
    {
        TimestampUnixMs = transfer.TimestampUnixMs,
        State = transfer.State,
        PostedAmount = transfer.PostedAmount,
        ExpiresAtUnixMs = transfer.ExpiresAtUnixMs,
        Sequence = transfer.Sequence,
    };
}
