using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger;

/// <summary>
/// An account as the engine and its store see it. On create only the identity fields are read
/// (balances must be zero); the ledger sets the balances and <see cref="CreatedAtUnixMs"/>.
/// </summary>
public sealed record LedgerAccount
{
    public UInt128 Id { get; init; }

    /// <summary>ISO 4217 code, e.g. "GBP".</summary>
    public string Currency { get; init; } = "";

    public AccountFlags Flags { get; init; }

    /// <summary>Extra debit allowed beyond credits, minor units, &gt;= 0.</summary>
    public long OverdraftLimit { get; init; }

    public uint Code { get; init; }

    public long DebitsPending { get; init; }

    public long DebitsPosted { get; init; }

    public long CreditsPending { get; init; }

    public long CreditsPosted { get; init; }

    public long CreatedAtUnixMs { get; init; }

    /// <summary>True when the fields a client chooses (currency, flags, overdraft, code) are equal.</summary>
    public bool HasSameBody(LedgerAccount other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Id == other.Id && Currency == other.Currency && Flags == other.Flags
            && OverdraftLimit == other.OverdraftLimit && Code == other.Code;
    }
}

/// <summary>The outcome of creating one account.</summary>
public readonly record struct LedgerAccountResult(CreateAccountStatus Status, bool Duplicate)
{
    /// <summary>For <see cref="CreateAccountStatus.WrongOwner"/>: why this cell did not serve the partition.</summary>
    public Cells.LedgerRefusal? Refusal { get; init; }
}
