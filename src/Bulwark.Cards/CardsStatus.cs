using Bulwark.Cards.Journal;
using Bulwark.Cards.Telemetry;

namespace Bulwark.Cards;

/// <summary>
/// What the card processor has done, for a host's status line and shutdown summary: the bank's
/// own stand-in decisions since start, and the journalled decisions that still wait for the
/// ledger. The same figures are in the <c>bulwark.cards.stand_in</c> metric and the journal.
/// </summary>
public sealed class CardsStatus
{
    private readonly CardsMetrics _metrics;
    private readonly CardJournal _journal;

    internal CardsStatus(CardsMetrics metrics, CardJournal journal)
    {
        _metrics = metrics;
        _journal = journal;
    }

    /// <summary>Authorisations the bank decided in stand-in (the ledger did not answer in time) since start.</summary>
    public long StandInDecisions => _metrics.StandInDecisions;

    /// <summary>Of <see cref="StandInDecisions"/>, the approvals: each one journalled until the ledger holds it.</summary>
    public long StandInApproved => _metrics.StandInApproved;

    /// <summary>Journalled decisions (stand-in approvals, scheme advices) not yet in the ledger; reads the journal.</summary>
    public long DecisionsWaitingForLedger() => _journal.PendingLedgerCount();
}
