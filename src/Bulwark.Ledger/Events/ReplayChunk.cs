using System.Globalization;
using Bulwark.EventLog;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger.Events;

/// <summary>
/// The rows of a run of one partition's events, gathered for one store transaction: the new
/// transfer rows (numbered in the store's order), the holds to refresh, and the final image of
/// every account and owed leg the events touched (kept whole in memory for the partition, since an
/// event carries balances and settlements, not whole rows).
/// </summary>
internal sealed class ReplayChunk
{
    private readonly int _partition;
    private readonly Dictionary<UInt128, LedgerAccount> _accounts;
    private readonly Dictionary<UInt128, OwedCreditLeg> _owedLegs;
    private readonly HashSet<UInt128> _touchedAccounts = [];
    private readonly HashSet<UInt128> _touchedOwedLegs = [];
    private readonly List<LedgerTransfer> _transfers = [];
    private readonly List<LedgerTransfer> _refreshed = [];

    public ReplayChunk(int partition, IEnumerable<LedgerAccount> accounts, IEnumerable<OwedCreditLeg> openOwedLegs)
    {
        _partition = partition;
        _accounts = accounts.ToDictionary(account => account.Id);
        _owedLegs = openOwedLegs.ToDictionary(owed => owed.Leg.Id);
    }

    public int Events { get; private set; }

    public int Rows => _transfers.Count + _refreshed.Count + _touchedAccounts.Count + _touchedOwedLegs.Count;

    public long FirstSequence { get; private set; }

    public long LastSequence { get; private set; }

    public int AccountsCreated { get; private set; }

    /// <summary>Adds one event's rows; returns the store's last transfer sequence after them.</summary>
    public long Add(EventRecord record, PartitionChange change, long sequence)
    {
        if (Events == 0)
        {
            FirstSequence = record.Sequence;
        }
        Events++;
        LastSequence = record.Sequence;
        foreach (var account in change.AccountsCreated)
        {
            var row = LedgerEventDecoder.ToRow(account);
            _accounts[row.Id] = row;
            _touchedAccounts.Add(row.Id);
            AccountsCreated++;
        }
        foreach (var transfer in change.TransfersWritten)
        {
            _transfers.Add(LedgerEventDecoder.ToRow(transfer) with { Sequence = ++sequence });
        }
        foreach (var hold in change.HoldsChanged)
        {
            _refreshed.Add(LedgerEventDecoder.ToRow(hold));
        }
        foreach (var leg in change.OwedLegsCreated)
        {
            var row = LedgerEventDecoder.ToRow(leg);
            _owedLegs[row.Id] = new OwedCreditLeg(_partition, row, OwedLegState.Owed);
            _touchedOwedLegs.Add(row.Id);
        }
        foreach (var settled in change.OwedLegsSettled)
        {
            // As the store does: only a leg still owed changes; a second settlement changes nothing.
            var id = settled.Id.ToUInt128();
            if (_owedLegs.TryGetValue(id, out var owed) && owed.State == OwedLegState.Owed)
            {
                _owedLegs[id] = owed with { State = LedgerEventDecoder.ToState(settled.Outcome) };
                _touchedOwedLegs.Add(id);
            }
        }
        foreach (var balances in change.Balances)
        {
            var id = balances.Id.ToUInt128();
            if (!_accounts.TryGetValue(id, out var account))
            {
                throw LedgerEventDecoder.Refused(record, string.Create(CultureInfo.InvariantCulture,
                    $"sets the balances of account {id:x32}, which no earlier event of partition {_partition} created"));
            }
            _accounts[id] = LedgerEventDecoder.WithBalances(account, balances);
            _touchedAccounts.Add(id);
        }
        return sequence;
    }

    /// <summary>The rows to write, up to the event <paramref name="appliedSequence"/>.</summary>
    public PartitionRowSet Take(long appliedSequence) => new(
        _touchedAccounts.Select(id => _accounts[id]).ToArray(),
        _transfers.ToArray(),
        _refreshed.ToArray(),
        _touchedOwedLegs.Select(id => _owedLegs[id]).ToArray(),
        appliedSequence,
        More: false);

    public void Clear(long appliedSequence)
    {
        Events = 0;
        AccountsCreated = 0;
        FirstSequence = appliedSequence + 1;
        _touchedAccounts.Clear();
        _touchedOwedLegs.Clear();
        _transfers.Clear();
        _refreshed.Clear();
        // Settled legs are done with: only an owed one can change again.
        foreach (var id in _owedLegs.Where(pair => pair.Value.State != OwedLegState.Owed).Select(pair => pair.Key).ToArray())
        {
            _owedLegs.Remove(id);
        }
    }
}
