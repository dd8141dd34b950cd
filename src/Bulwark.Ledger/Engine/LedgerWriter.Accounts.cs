using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger.Engine;

/// <summary>How the writer decides one account creation.</summary>
internal sealed partial class LedgerWriter
{
    private const AccountFlags KnownAccountFlags = AccountFlags.DebitsMustNotExceedCredits;

    private LedgerAccountResult DecideAccount(LedgerAccount account)
    {
        var status = CheckFields(account);
        if (status != CreateAccountStatus.Ok)
        {
            return new LedgerAccountResult(status, Duplicate: false);
        }
        if (Cells.TransitAccounts.IsReserved(account.Id))
        {
            return new LedgerAccountResult(CreateAccountStatus.IdReserved, Duplicate: false);
        }
        var partition = LedgerPartitioner.PartitionOf(account.Id, _options.PartitionCount);
        if (_ownership.Refusal(partition) is { } refusal)
        {
            return new LedgerAccountResult(CreateAccountStatus.WrongOwner, Duplicate: false) { Refusal = refusal };
        }
        if (_accounts.TryGetValue(account.Id, out var existing))
        {
            return existing.Identity.HasSameBody(account)
                ? new LedgerAccountResult(CreateAccountStatus.Ok, Duplicate: true)
                : new LedgerAccountResult(CreateAccountStatus.IdAlreadyUsedWithDifferentBody, Duplicate: false);
        }
        var created = new LedgerAccount
        {
            Id = account.Id,
            Currency = account.Currency,
            Flags = account.Flags,
            OverdraftLimit = account.OverdraftLimit,
            Code = account.Code,
            CreatedAtUnixMs = _now,
        };
        _accounts.Add(account.Id, new AccountState(created, partition));
        _commit.NewAccounts.Add(new Partitioned<LedgerAccount>(partition, created));
        NoteChanged(partition);
        return new LedgerAccountResult(CreateAccountStatus.Ok, Duplicate: false);
    }

    private static CreateAccountStatus CheckFields(LedgerAccount account)
    {
        if (account.Id == UInt128.Zero)
        {
            return CreateAccountStatus.IdMustNotBeZero;
        }
        if (account.DebitsPending != 0 || account.DebitsPosted != 0 || account.CreditsPending != 0 || account.CreditsPosted != 0)
        {
            return CreateAccountStatus.BalancesMustBeZero;
        }
        if ((account.Flags & ~KnownAccountFlags) != 0)
        {
            return CreateAccountStatus.UnknownFlags;
        }
        if (!Iso4217.IsActive(account.Currency))
        {
            return CreateAccountStatus.UnknownCurrency;
        }
        if (account.OverdraftLimit < 0)
        {
            return CreateAccountStatus.OverdraftLimitMustNotBeNegative;
        }
        return CreateAccountStatus.Ok;
    }
}
