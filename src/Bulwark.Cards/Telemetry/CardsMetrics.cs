using System.Diagnostics.Metrics;
using Bulwark.Iso8583;

namespace Bulwark.Cards.Telemetry;

/// <summary>The processor's counters and histograms, meter <c>Bulwark.Cards</c>.</summary>
internal sealed class CardsMetrics
{
    public const string MeterName = "Bulwark.Cards";

    private readonly Counter<long> _messages;
    private readonly Counter<long> _decisions;
    private readonly Counter<long> _formatErrors;
    private readonly Counter<long> _framingErrors;
    private readonly Counter<long> _linkRefusals;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _standIns;
    private readonly Counter<long> _standInPosted;
    private readonly Counter<long> _ledgerRefusals;
    private readonly Counter<long> _forced;
    private readonly Counter<long> _lateHoldsVoided;
    private readonly Counter<long> _idConflicts;
    private readonly Histogram<double> _duration;
    private long _standInApproved;
    private long _standInDecisions;

    public CardsMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _messages = meter.CreateCounter<long>("bulwark.cards.messages", description: "ISO 8583 messages received, by MTI.");
        _decisions = meter.CreateCounter<long>("bulwark.cards.decisions", description: "Answers sent, by MTI and response code.");
        _formatErrors = meter.CreateCounter<long>("bulwark.cards.format_errors", description: "Messages that could not be parsed, by whether they were answered with 30.");
        _framingErrors = meter.CreateCounter<long>("bulwark.cards.framing_errors", description: "Connections closed because their byte stream could not be split into messages.");
        _linkRefusals = meter.CreateCounter<long>("bulwark.cards.link_refusals", description: "Link connections closed or requests refused by the link itself, by reason (source_not_allowed, not_signed_on, idle_timeout, read_timeout, write_timeout).");
        _duplicates = meter.CreateCounter<long>("bulwark.cards.duplicates", description: "Requests for an authorisation already decided, answered with the original decision.");
        _standIns = meter.CreateCounter<long>("bulwark.cards.stand_in", description: "Authorisations decided in the bank's stand-in, by response code.");
        _standInPosted = meter.CreateCounter<long>("bulwark.cards.stand_in_posted", description: "Journalled decisions posted to the ledger after the fact.");
        _ledgerRefusals = meter.CreateCounter<long>("bulwark.cards.ledger_refused", description: "Decisions already given that the ledger later refused (operator follow-up).");
        _forced = meter.CreateCounter<long>("bulwark.cards.forced", description: "Approved holds placed after the fact (stand-in, advices) that needed the ledger's FORCE flag because the balance no longer covered them.");
        _lateHoldsVoided = meter.CreateCounter<long>("bulwark.cards.late_holds_voided", description: "Holds that committed after their authorisation had been declined or reversed (the request timed out), voided by the replayer.");
        _idConflicts = meter.CreateCounter<long>("bulwark.cards.ledger.id_conflicts", description: "Ledger answers 'id already used' to a card transfer (hold, post, force-post), by kind: the id was taken by another transfer. Each one is an alert.");
        _duration = meter.CreateHistogram<double>("bulwark.cards.request.duration", unit: "s", description: "Time from a request's arrival to its answer being written.");
    }

    public void Message(string mti) => _messages.Add(1, new KeyValuePair<string, object?>("mti", mti));

    public void Decision(string mti, string responseCode, double seconds)
    {
        _decisions.Add(1, new KeyValuePair<string, object?>("mti", mti), new KeyValuePair<string, object?>("code", responseCode));
        _duration.Record(seconds, new KeyValuePair<string, object?>("mti", mti));
    }

    public void FormatError(bool answered) => _formatErrors.Add(1, new KeyValuePair<string, object?>("answered", answered));

    public void FramingError() => _framingErrors.Add(1);

    public void LinkRefusal(string reason) => _linkRefusals.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Duplicate() => _duplicates.Add(1);

    public void StandIn(string responseCode)
    {
        _standIns.Add(1, new KeyValuePair<string, object?>("code", responseCode));
        Interlocked.Increment(ref _standInDecisions);
        if (responseCode == Iso8583ResponseCodes.Approved)
        {
            Interlocked.Increment(ref _standInApproved);
        }
    }

    /// <summary>Authorisations decided in the bank's stand-in since start (the counter's total, for a status line).</summary>
    public long StandInDecisions => Interlocked.Read(ref _standInDecisions);

    /// <summary>Of <see cref="StandInDecisions"/>, the approvals.</summary>
    public long StandInApproved => Interlocked.Read(ref _standInApproved);

    public void StandInPosted() => _standInPosted.Add(1);

    public void LedgerRefused() => _ledgerRefusals.Add(1);

    public void LateHoldVoided() => _lateHoldsVoided.Add(1);

    public void IdConflict(string kind) => _idConflicts.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void ForcedHold() => _forced.Add(1, new KeyValuePair<string, object?>("kind", "hold"));
}
