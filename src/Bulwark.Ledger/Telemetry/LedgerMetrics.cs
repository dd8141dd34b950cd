using System.Diagnostics.Metrics;
using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Telemetry;

/// <summary>
/// The ledger's instruments on the meter "Bulwark.Ledger". Decisions are counted only once their
/// batch is durable, so a failed batch never shows as committed. Not-found lookups have their own
/// counter: an unknown id is an answer, not an error (R11).
/// </summary>
public sealed class LedgerMetrics : IDisposable
{
    public const string MeterName = "Bulwark.Ledger";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _transfersCommitted;
    private readonly Counter<long> _transfersDuplicate;
    private readonly Counter<long> _transfersRejected;
    private readonly Counter<long> _accountsCreated;
    private readonly Counter<long> _accountsRejected;
    private readonly Counter<long> _holdsExpired;
    private readonly Counter<long> _batchesFailed;
    private readonly Counter<long> _notFound;
    private readonly Counter<long> _idConflicts;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _creditLegs;
    private readonly Counter<long> _moveSteps;
    private readonly KeyValuePair<string, object?> _cell;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _commitDuration;

    /// <summary>Instruments on a meter from <paramref name="meterFactory"/>, or on a meter of their own when null.</summary>
    public LedgerMetrics(IMeterFactory? meterFactory = null, string cell = "a")
    {
        _cell = new KeyValuePair<string, object?>("cell", cell);
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _transfersCommitted = _meter.CreateCounter<long>("bulwark.ledger.transfers.committed", "{transfer}", "New transfers committed.");
        _transfersDuplicate = _meter.CreateCounter<long>("bulwark.ledger.transfers.duplicate", "{transfer}", "Retries answered with the original transfer.");
        _transfersRejected = _meter.CreateCounter<long>("bulwark.ledger.transfers.rejected", "{transfer}", "Transfers declined, by status.");
        _accountsCreated = _meter.CreateCounter<long>("bulwark.ledger.accounts.created", "{account}", "Accounts created.");
        _accountsRejected = _meter.CreateCounter<long>("bulwark.ledger.accounts.rejected", "{account}", "Account creations declined, by status.");
        _holdsExpired = _meter.CreateCounter<long>("bulwark.ledger.holds.expired", "{hold}", "Holds released because their timeout passed.");
        _batchesFailed = _meter.CreateCounter<long>("bulwark.ledger.batches.failed", "{batch}", "Batches that failed and were not written, by reason.");
        _notFound = _meter.CreateCounter<long>("bulwark.ledger.lookups.not_found", "{lookup}", "Looked-up ids the ledger does not hold, by kind.");
        _idConflicts = _meter.CreateCounter<long>("bulwark.ledger.transfers.id_conflicts", "{transfer}",
            "New transfers answered ID_ALREADY_USED_WITH_DIFFERENT_BODY, by the caller's id namespace. For the card and bank namespaces every one is an alert: a bank process could not write what it needed.");
        _refusals = _meter.CreateCounter<long>("bulwark.ledger.partition.refusals", "{request}",
            "Requests or items about a partition this cell does not serve (not owner, moving, epoch ahead), by cell and reason: answered WRONG_OWNER, never not-found.");
        _creditLegs = _meter.CreateCounter<long>("bulwark.ledger.credit_legs", "{leg}",
            "Credit legs of transfers between cells, by cell and outcome: owed (recorded for delivery), delivered, returned (refused for good by the credit account's cell).");
        _moveSteps = _meter.CreateCounter<long>("bulwark.ledger.move.steps", "{step}",
            "Steps of partition moves taken by this cell, by cell and step (import_begun, paused, verified, released, owned, resumed, pause_expired, verify_failed, own_refused, import_aborted).");
        _batchSize = _meter.CreateHistogram<int>("bulwark.ledger.batch.size", "{item}", "Items committed per batch.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8190] });
        _commitDuration = _meter.CreateHistogram<double>("bulwark.ledger.commit.duration", "s", "Time to write and sync one batch.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2] });
    }

    internal void BatchCommitted(int items, TimeSpan commitDuration)
    {
        _batchSize.Record(items);
        _commitDuration.Record(commitDuration.TotalSeconds);
    }

    internal void BatchFailed(string reason) => _batchesFailed.Add(1, new KeyValuePair<string, object?>("reason", reason));

    internal void TransferDecided(LedgerTransferResult result)
    {
        if (result.Status != TransferStatus.Ok)
        {
            _transfersRejected.Add(1, new KeyValuePair<string, object?>("status", StatusName(result.Status)));
        }
        else if (result.Duplicate)
        {
            _transfersDuplicate.Add(1);
        }
        else
        {
            _transfersCommitted.Add(1);
        }
    }

    internal void AccountDecided(LedgerAccountResult result)
    {
        if (result.Status != CreateAccountStatus.Ok)
        {
            _accountsRejected.Add(1, new KeyValuePair<string, object?>("status", result.Status.ToString()));
        }
        else if (!result.Duplicate)
        {
            _accountsCreated.Add(1);
        }
    }

    /// <summary>A transfer of <paramref name="idNamespace"/> was told its id is taken by another body.</summary>
    internal void IdConflict(IdNamespace idNamespace) =>
        _idConflicts.Add(1, new KeyValuePair<string, object?>("namespace", NamespaceName(idNamespace)));

    internal static string NamespaceName(IdNamespace idNamespace) => idNamespace switch
    {
        IdNamespace.Customer => "customer",
        IdNamespace.Card => "card",
        IdNamespace.Bank => "bank",
        _ => "unspecified",
    };

    internal void HoldExpired() => _holdsExpired.Add(1);

    internal void NotFound(string kind, int count)
    {
        if (count > 0)
        {
            _notFound.Add(count, new KeyValuePair<string, object?>("kind", kind), _cell);
        }
    }

    internal void PartitionRefused(RefusalReason reason, int count = 1)
    {
        if (count > 0)
        {
            _refusals.Add(count, _cell, new KeyValuePair<string, object?>("reason", reason switch
            {
                RefusalReason.Moving => "moving",
                RefusalReason.EpochAhead => "epoch_ahead",
                _ => "not_owner",
            }));
        }
    }

    internal void MoveStep(string step) => _moveSteps.Add(1, _cell, new KeyValuePair<string, object?>("step", step));

    internal void CreditLegOwed() => _creditLegs.Add(1, _cell, new KeyValuePair<string, object?>("outcome", "owed"));

    internal void CreditLegsDelivered(int count) => _creditLegs.Add(count, _cell, new KeyValuePair<string, object?>("outcome", "delivered"));

    internal void CreditLegReturned() => _creditLegs.Add(1, _cell, new KeyValuePair<string, object?>("outcome", "returned"));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    // Enum.ToString allocates; the rejection path is hot under a flood of declines.
    private static readonly string[] StatusNames = Enum.GetValues<TransferStatus>().Select(status => status.ToString()).ToArray();

    private static string StatusName(TransferStatus status) =>
        (uint)status < (uint)StatusNames.Length ? StatusNames[(int)status] : status.ToString();
}
