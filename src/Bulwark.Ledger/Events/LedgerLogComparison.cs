using System.Globalization;
using Bulwark.EventLog;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger.Events;

/// <summary>What kind of difference a comparison found.</summary>
public enum LedgerDifferenceKind
{
    /// <summary>A row the expected side holds and the actual side does not.</summary>
    Missing,

    /// <summary>A row the actual side holds and the expected side does not.</summary>
    Extra,

    /// <summary>The same row with another body (for an account: other balances or another body).</summary>
    Differs,

    /// <summary>A transfer row held more than once (in the event log: written by two events).</summary>
    Repeated,

    /// <summary>A partition the cell should own and the store does not (or at another epoch).</summary>
    NotOwned,
}

/// <summary>One difference: in <paramref name="Partition"/>, of a <paramref name="Row"/> ("transfer ID leg L", "account ID", "owed leg ID"), with a <paramref name="Detail"/> for people.</summary>
public sealed record LedgerDifference(int Partition, LedgerDifferenceKind Kind, string Row, string Detail)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"partition {Partition}: {Kind.ToString().ToLowerInvariant()} {Row}: {Detail}");
}

/// <summary>One partition's counts on each side, and how many differences it has.</summary>
public sealed record PartitionComparison(int Partition, long Events, long ExpectedTransfers, long ActualTransfers, long ExpectedAccounts, long ActualAccounts, long Differences);

/// <summary>
/// A comparison of <paramref name="Actual"/> with <paramref name="Expected"/> (sources as
/// <see cref="LedgerCellRows.Source"/> names them) over <paramref name="Partitions"/>:
/// <see cref="Ok"/> when there is no difference. <paramref name="Differences"/> lists at most
/// <see cref="LedgerReplayLimits.DifferencesListedMax"/>; <paramref name="DifferenceCount"/> counts all.
/// </summary>
public sealed record LedgerComparisonReport(string Expected, string Actual, IReadOnlyList<PartitionComparison> Partitions, IReadOnlyList<LedgerDifference> Differences, long DifferenceCount)
{
    public bool Ok => DifferenceCount == 0;

    public long TransferRows => Partitions.Sum(partition => partition.ExpectedTransfers);
}

/// <summary>
/// Compares a ledger cell's rows between two sources, partition by partition
/// (docs/runbooks/ledger-replay.md, "Verify"): every transfer row present once on each side with
/// the same body (every column but the sequence, which is each store's own commit order — a move's
/// import and a replay number rows anew), every account with the same body and balances, every owed
/// credit leg in the same state; and, when the actual side is a store, that it owns each partition
/// at the expected epoch. Used by <c>bulwark ledger verify</c> (the cell's store against the event
/// log, and a replayed copy against it) and by reconciliation's "ledger vs event log" check.
/// </summary>
public static class LedgerLogComparison
{
    /// <summary>
    /// Reads the event log's history of <paramref name="partitions"/> and <paramref name="store"/>'s
    /// rows of them, and compares them (the store should own each at its epoch in <paramref name="partitions"/>;
    /// an epoch of 0 is not checked). Throws what <see cref="LedgerCellRows.ReadLogAsync"/> and
    /// <see cref="LedgerCellRows.ReadStore"/> throw when a side cannot be read.
    /// </summary>
    public static async Task<LedgerComparisonReport> CompareWithLogAsync(IEventLog log, LedgerCellSource store,
        IReadOnlyList<ReplayPartition> partitions, int partitionCount, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var numbers = partitions.Select(target => target.Partition).ToArray();
        var expected = await LedgerCellRows.ReadLogAsync(log, numbers, partitionCount, cancellationToken).ConfigureAwait(false);
        var actual = LedgerCellRows.ReadStore(store, numbers);
        return Compare(expected, actual, partitions);
    }

    /// <summary>
    /// <paramref name="actual"/> compared with <paramref name="expected"/> over <paramref name="partitions"/>
    /// (ownership checked only when <paramref name="actual"/> is a store of a cell).
    /// </summary>
    public static LedgerComparisonReport Compare(LedgerCellRows expected, LedgerCellRows actual, IReadOnlyList<ReplayPartition> partitions)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(partitions);
        var differences = new Differences();
        var rows = new List<PartitionComparison>();
        foreach (var target in partitions.OrderBy(target => target.Partition))
        {
            var before = differences.Count;
            var left = expected.Partitions.GetValueOrDefault(target.Partition) ?? new PartitionRows(target.Partition);
            var right = actual.Partitions.GetValueOrDefault(target.Partition) ?? new PartitionRows(target.Partition);
            if (actual.Cell is not null && target.Epoch > 0 && (!actual.Owned.TryGetValue(target.Partition, out var epoch) || epoch != target.Epoch))
            {
                differences.Add(new LedgerDifference(target.Partition, LedgerDifferenceKind.NotOwned, "ownership", actual.Owned.TryGetValue(target.Partition, out var held)
                    ? string.Create(CultureInfo.InvariantCulture, $"{actual.Source} owns it at epoch {held}, not {target.Epoch}")
                    : string.Create(CultureInfo.InvariantCulture, $"{actual.Source} (cell '{actual.Cell}') does not own it; it should at epoch {target.Epoch}")));
            }
            CompareRepeated(left, expected.Source, differences);
            CompareRepeated(right, actual.Source, differences);
            CompareTransfers(left, right, differences);
            CompareAccounts(left, right, differences);
            CompareOwedLegs(left, right, differences);
            rows.Add(new PartitionComparison(target.Partition, left.Events + right.Events, left.Transfers.Count, right.Transfers.Count,
                left.Accounts.Count, right.Accounts.Count, differences.Count - before));
        }
        return new LedgerComparisonReport(expected.Source, actual.Source, rows, differences.Listed, differences.Count);
    }

    private static void CompareRepeated(PartitionRows rows, string source, Differences differences)
    {
        foreach (var (id, leg, sequence) in rows.Repeated)
        {
            differences.Add(new LedgerDifference(rows.Partition, LedgerDifferenceKind.Repeated, TransferName(id, leg),
                string.Create(CultureInfo.InvariantCulture, $"{source} holds it more than once (again at {sequence})")));
        }
    }

    private static void CompareTransfers(PartitionRows expected, PartitionRows actual, Differences differences)
    {
        foreach (var (key, row) in expected.Transfers)
        {
            if (!actual.Transfers.TryGetValue(key, out var other))
            {
                differences.Add(new LedgerDifference(expected.Partition, LedgerDifferenceKind.Missing, TransferName(key.Id, key.Leg), Describe(row)));
            }
            else if (!SameBody(row, other))
            {
                differences.Add(new LedgerDifference(expected.Partition, LedgerDifferenceKind.Differs, TransferName(key.Id, key.Leg), $"expected {Describe(row)}; found {Describe(other)}"));
            }
        }
        foreach (var (key, row) in actual.Transfers)
        {
            if (!expected.Transfers.ContainsKey(key))
            {
                differences.Add(new LedgerDifference(expected.Partition, LedgerDifferenceKind.Extra, TransferName(key.Id, key.Leg), Describe(row)));
            }
        }
    }

    private static void CompareAccounts(PartitionRows expected, PartitionRows actual, Differences differences)
    {
        foreach (var (id, account) in expected.Accounts)
        {
            if (!actual.Accounts.TryGetValue(id, out var other))
            {
                differences.Add(new LedgerDifference(expected.Partition, LedgerDifferenceKind.Missing, AccountName(id), Describe(account)));
            }
            else if (account != other)
            {
                differences.Add(new LedgerDifference(expected.Partition, LedgerDifferenceKind.Differs, AccountName(id), $"expected {Describe(account)}; found {Describe(other)}"));
            }
        }
        foreach (var (id, account) in actual.Accounts)
        {
            if (!expected.Accounts.ContainsKey(id))
            {
                differences.Add(new LedgerDifference(expected.Partition, LedgerDifferenceKind.Extra, AccountName(id), Describe(account)));
            }
        }
    }

    private static void CompareOwedLegs(PartitionRows expected, PartitionRows actual, Differences differences)
    {
        foreach (var (id, owed) in expected.OwedLegs)
        {
            if (!actual.OwedLegs.TryGetValue(id, out var other))
            {
                differences.Add(new LedgerDifference(expected.Partition, LedgerDifferenceKind.Missing, OwedName(id), Describe(owed)));
            }
            else if (!SameOwedLeg(owed, other))
            {
                differences.Add(new LedgerDifference(expected.Partition, LedgerDifferenceKind.Differs, OwedName(id), $"expected {Describe(owed)}; found {Describe(other)}"));
            }
        }
        foreach (var (id, owed) in actual.OwedLegs)
        {
            if (!expected.OwedLegs.ContainsKey(id))
            {
                differences.Add(new LedgerDifference(expected.Partition, LedgerDifferenceKind.Extra, OwedName(id), Describe(owed)));
            }
        }
    }

    /// <summary>Every column but the sequence, each store's own commit order.</summary>
    public static bool SameBody(LedgerTransfer expected, LedgerTransfer actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        return expected with { Sequence = 0 } == actual with { Sequence = 0 };
    }

    /// <summary>The columns a store keeps of an owed leg, and its state.</summary>
    private static bool SameOwedLeg(OwedCreditLeg expected, OwedCreditLeg actual)
    {
        var (left, right) = (expected.Leg, actual.Leg);
        return expected.Partition == actual.Partition && expected.State == actual.State
            && left.Id == right.Id && left.DebitAccountId == right.DebitAccountId && left.CreditAccountId == right.CreditAccountId
            && left.Amount == right.Amount && left.Currency == right.Currency && left.Code == right.Code
            && left.TimestampUnixMs == right.TimestampUnixMs && LedgerTransfer.MetadataEquals(left.Metadata, right.Metadata);
    }

    private static string TransferName(UInt128 id, TransferLeg leg) => $"transfer {id:x32} leg {leg.ToString().ToLowerInvariant()}";

    private static string AccountName(UInt128 id) => $"account {id:x32}";

    private static string OwedName(UInt128 id) => $"owed leg {id:x32}";

    private static string Describe(LedgerTransfer row) => string.Create(CultureInfo.InvariantCulture,
        $"{row.Amount} {row.Currency} {row.DebitAccountId:x32} -> {row.CreditAccountId:x32}, state {row.State}, posted {row.PostedAmount}, flags {row.Flags}, at {row.TimestampUnixMs}");

    private static string Describe(LedgerAccount account) => string.Create(CultureInfo.InvariantCulture,
        $"{account.Currency} flags {account.Flags} code {account.Code}, debits {account.DebitsPending}/{account.DebitsPosted}, credits {account.CreditsPending}/{account.CreditsPosted} (pending/posted)");

    private static string Describe(OwedCreditLeg owed) => string.Create(CultureInfo.InvariantCulture,
        $"{owed.Leg.Amount} {owed.Leg.Currency} to {owed.Leg.CreditAccountId:x32}, {owed.State}");

    private sealed class Differences
    {
        public List<LedgerDifference> Listed { get; } = [];

        public long Count { get; private set; }

        public void Add(LedgerDifference difference)
        {
            Count++;
            if (Listed.Count < LedgerReplayLimits.DifferencesListedMax)
            {
                Listed.Add(difference);
            }
        }
    }
}
