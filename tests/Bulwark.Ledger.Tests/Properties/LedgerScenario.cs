using System.Globalization;
using Bulwark.Ledger.Protos;
using FsCheck;
using FsCheck.Fluent;

namespace Bulwark.Ledger.Tests.Properties;

public enum StepKind
{
    CreateAccounts,
    Submit,
    Advance,
}

/// <summary>
/// One step of a scenario: accounts created in one call, transfers submitted in ONE call (so
/// they share a batch and later ones see earlier ones), or the clock advanced (and perhaps swept).
/// </summary>
public sealed record Step(StepKind Kind, IReadOnlyList<LedgerAccount> Accounts, IReadOnlyList<LedgerTransfer> Transfers, int AdvanceMilliseconds, bool Sweep)
{
    public override string ToString() => Kind switch
    {
        StepKind.CreateAccounts => "create " + string.Join(", ", Accounts.Select(a => $"#{a.Id} {a.Currency} {a.Flags} od={a.OverdraftLimit}")),
        StepKind.Submit => "submit [" + string.Join("; ", Transfers.Select(Describe)) + "]",
        _ => string.Create(CultureInfo.InvariantCulture, $"advance {AdvanceMilliseconds} ms{(Sweep ? " + sweep" : "")}"),
    };

    private static string Describe(LedgerTransfer t) => string.Create(CultureInfo.InvariantCulture,
        $"#{t.Id} {t.Flags} {t.DebitAccountId}->{t.CreditAccountId} {t.Amount} {t.Currency} p={t.PendingId} to={t.TimeoutSeconds} md={t.Metadata.Count}");
}

/// <summary>A random sequence of steps over a handful of accounts and a small id space, so that retries collide.</summary>
public sealed record Scenario(IReadOnlyList<Step> Steps)
{
    public override string ToString() => Environment.NewLine + string.Join(Environment.NewLine, Steps);
}

public static class LedgerArbitraries
{
    private const int AccountIdsMax = 6;
    private const int TransferIdsMax = 40;

    private static readonly IReadOnlyDictionary<string, string>[] MetadataVariants =
    [
        LedgerTransfer.NoMetadata,
        new Dictionary<string, string> { ["description"] = "Coffee" },
        new Dictionary<string, string> { ["description"] = "Rent", ["category"] = "bills" },
    ];

    private static Gen<UInt128> AccountId => Gen.Choose(1, AccountIdsMax).Select(i => (UInt128)i);

    private static Gen<UInt128> TransferId => Gen.Frequency((30, Gen.Choose(1, TransferIdsMax)), (1, Gen.Constant(0))).Select(i => (UInt128)i);

    private static Gen<long> Amount => Gen.Frequency(
        (20, Gen.Choose(1, 400).Select(i => (long)i)),
        (1, Gen.Constant(0L)),
        (1, Gen.Constant(-5L)),
        (1, Gen.Choose(0, 3).Select(i => long.MaxValue - i)));

    private static Gen<string> Currency => Gen.Frequency((20, Gen.Constant("GBP")), (2, Gen.Constant("EUR")), (1, Gen.Constant("ZZZ")));

    private static Gen<LedgerAccount> NewAccount =>
        from id in AccountId
        from limited in Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)))
        from overdraft in Gen.Elements(0L, 0L, 100L)
        from currency in Gen.Frequency((12, Gen.Constant("GBP")), (1, Gen.Constant("EUR")))
        select new LedgerAccount
        {
            Id = id,
            Currency = currency,
            Flags = limited ? AccountFlags.DebitsMustNotExceedCredits : AccountFlags.None,
            OverdraftLimit = limited ? overdraft : 0,
            Code = 1,
        };

    private static Gen<LedgerTransfer> SinglePhaseOrHold =>
        from id in TransferId
        from debit in AccountId
        from credit in AccountId
        from amount in Amount
        from currency in Currency
        from hold in Gen.Frequency((2, Gen.Constant(false)), (1, Gen.Constant(true)))
        from force in Gen.Frequency((7, Gen.Constant(false)), (1, Gen.Constant(true)))
        from timeout in Gen.Elements(0u, 0u, 1u, 2u, 3u)
        from metadata in Gen.Choose(0, MetadataVariants.Length - 1)
        select new LedgerTransfer
        {
            Id = id,
            DebitAccountId = debit,
            CreditAccountId = credit,
            Amount = amount,
            Currency = currency,
            Flags = (hold ? TransferFlags.Pending : TransferFlags.None) | (force ? TransferFlags.Force : TransferFlags.None),
            TimeoutSeconds = hold || timeout == 3 ? timeout : 0,
            Code = 3,
            Metadata = MetadataVariants[metadata],
        };

    private static Gen<LedgerTransfer> PostOrVoid =>
        from id in TransferId
        from pending in TransferId
        from post in Gen.Frequency((3, Gen.Constant(true)), (2, Gen.Constant(false)))
        from amount in Gen.Frequency((3, Gen.Constant(0L)), (2, Gen.Choose(1, 450).Select(i => (long)i)))
        from naming in Gen.Choose(0, 4)
        from account in AccountId
        select new LedgerTransfer
        {
            Id = id,
            PendingId = pending,
            Amount = post || naming == 4 ? amount : 0,
            Flags = post ? TransferFlags.PostPending : TransferFlags.VoidPending,
            // Sometimes names an account (right or wrong) or a currency; usually leaves them unset.
            DebitAccountId = naming == 1 ? account : UInt128.Zero,
            Currency = naming == 2 ? "GBP" : naming == 3 ? "EUR" : "",
        };

    private static Gen<LedgerTransfer> OddFlags =>
        from id in TransferId
        from flags in Gen.Elements((TransferFlags)3, (TransferFlags)16, TransferFlags.Force | TransferFlags.PostPending, TransferFlags.None)
        select new LedgerTransfer { Id = id, DebitAccountId = 1, CreditAccountId = 2, Amount = 1, Currency = "GBP", Flags = flags, PendingId = flags == TransferFlags.None ? (UInt128)7 : UInt128.Zero };

    private static Gen<LedgerTransfer> AnyTransfer =>
        Gen.Frequency((12, SinglePhaseOrHold), (6, PostOrVoid), (1, OddFlags));

    private static Gen<Step> StepGen => Gen.Frequency(
        (2, Gen.Choose(1, 3).SelectMany(n => NewAccount.ArrayOf(n)).Select(a => new Step(StepKind.CreateAccounts, a, [], 0, false))),
        (8, Gen.Choose(1, 12).SelectMany(n => AnyTransfer.ArrayOf(n)).Select(t => new Step(StepKind.Submit, [], t, 0, false))),
        (2, from ms in Gen.Elements(0, 400, 1_000, 1_500, 3_000)
            from sweep in Gen.Elements(true, false)
            select new Step(StepKind.Advance, [], [], ms, sweep)));

    /// <summary>Funding first, so that limited accounts have money to move; then random steps.</summary>
    private static Gen<Scenario> ScenarioGen =>
        from steps in StepGen.ArrayOf()
        select new Scenario([Setup, .. steps]);

    private static readonly Step Setup = new(StepKind.CreateAccounts,
        [new LedgerAccount { Id = 1, Currency = "GBP", Code = 100 }, new LedgerAccount { Id = 2, Currency = "GBP", Code = 1, Flags = AccountFlags.DebitsMustNotExceedCredits }],
        [], 0, false);

    /// <summary>Shrinks by dropping one step at a time (never the setup), then single transfers.</summary>
    private static IEnumerable<Scenario> Shrink(Scenario scenario)
    {
        for (var i = scenario.Steps.Count - 1; i >= 1; i--)
        {
            yield return new Scenario([.. scenario.Steps.Take(i), .. scenario.Steps.Skip(i + 1)]);
        }
        for (var i = 1; i < scenario.Steps.Count; i++)
        {
            var step = scenario.Steps[i];
            for (var j = 0; step.Transfers.Count > 1 && j < step.Transfers.Count; j++)
            {
                var fewer = step with { Transfers = [.. step.Transfers.Take(j), .. step.Transfers.Skip(j + 1)] };
                yield return new Scenario([.. scenario.Steps.Take(i), fewer, .. scenario.Steps.Skip(i + 1)]);
            }
        }
    }

    public static Arbitrary<Scenario> Scenarios() => Arb.From(ScenarioGen, Shrink);
}
