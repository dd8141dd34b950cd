using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Engine;

/// <summary>
/// The writer's cached copy of one account. Only the writer thread reads or changes it; the
/// cache is coherent because the writer is the only thing that writes accounts.
/// </summary>
internal sealed class AccountState
{
    public AccountState(LedgerAccount account, int partition)
    {
        Identity = account with { DebitsPending = 0, DebitsPosted = 0, CreditsPending = 0, CreditsPosted = 0 };
        Partition = partition;
        DebitsPending = account.DebitsPending;
        DebitsPosted = account.DebitsPosted;
        CreditsPending = account.CreditsPending;
        CreditsPosted = account.CreditsPosted;
    }

    /// <summary>The fields that never change after creation (balances zeroed).</summary>
    public LedgerAccount Identity { get; }

    public int Partition { get; }

    public UInt128 Id => Identity.Id;

    public string Currency => Identity.Currency;

    public bool DebitsMustNotExceedCredits => (Identity.Flags & AccountFlags.DebitsMustNotExceedCredits) != 0;

    public long DebitsPending { get; set; }

    public long DebitsPosted { get; set; }

    public long CreditsPending { get; set; }

    public long CreditsPosted { get; set; }

    /// <summary>The batch that last touched this account, and its balances before that batch.</summary>
    public long TouchedInBatch { get; private set; }

    public long DebitsPendingBefore { get; private set; }

    public long DebitsPostedBefore { get; private set; }

    public long CreditsPendingBefore { get; private set; }

    public long CreditsPostedBefore { get; private set; }

    /// <summary>Debits in the current batch that were forced past the limit check.</summary>
    public long ForcedDebitsInBatch { get; set; }

    /// <summary>Remembers the balances before the batch on its first touch; true on that first touch.</summary>
    public bool Touch(long batch)
    {
        if (TouchedInBatch == batch)
        {
            return false;
        }
        TouchedInBatch = batch;
        DebitsPendingBefore = DebitsPending;
        DebitsPostedBefore = DebitsPosted;
        CreditsPendingBefore = CreditsPending;
        CreditsPostedBefore = CreditsPosted;
        ForcedDebitsInBatch = 0;
        return true;
    }

    public LedgerAccount Snapshot() => Identity with
    {
        DebitsPending = DebitsPending,
        DebitsPosted = DebitsPosted,
        CreditsPending = CreditsPending,
        CreditsPosted = CreditsPosted,
    };
}
