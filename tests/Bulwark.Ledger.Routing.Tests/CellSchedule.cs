using System.Globalization;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Routing.Tests;

public enum OperationKind
{
    Transfer,
    Hold,
    Post,
    Void,
    Retry,
    Read,
    Move,
    RestartCell,
    CellDown,
}

/// <summary>Where a transfer's credit account is, relative to its debit account, under the map of the moment it runs.</summary>
public enum TransferRoute
{
    SamePartition,
    SameCell,
    CrossCell,
}

/// <summary>
/// One step of a schedule, drawn from the seed before anything runs. What depends on the bank's
/// state when it runs (which accounts share a cell now, whether the hold it posts was
/// acknowledged) is resolved then from the numbers drawn here.
/// </summary>
public sealed record ScheduledOperation(int Index, OperationKind Kind)
{
    public TransferRoute Route { get; init; }

    public int Debit { get; init; }

    public int Credit { get; init; }

    public long Amount { get; init; }

    /// <summary>The earlier operation a post, void or retry is about; -1 for none.</summary>
    public int Reference { get; init; } = -1;

    /// <summary>For a post: the amount taken off the hold's (0: the whole hold).</summary>
    public long PostShortBy { get; init; }

    public int Partition { get; init; }

    public int Target { get; init; }

    /// <summary>For a move: the step at which the mover dies (null: it is not killed at a step).</summary>
    public string? KillAtStep { get; init; }

    /// <summary>For a move: cancelled after this many milliseconds (0: not cancelled).</summary>
    public int CancelAfterMilliseconds { get; init; }

    /// <summary>For an interrupted move: run it again after this many milliseconds (0: leave it, to its lease or a later move).</summary>
    public int ResumeAfterMilliseconds { get; init; }

    public int Cell { get; init; }

    public int DownMilliseconds { get; init; }

    public override string ToString() => Kind switch
    {
        OperationKind.Transfer or OperationKind.Hold => Invariant($"#{Index} {Kind} {Route} {Debit}->{Credit} {Amount}"),
        OperationKind.Post => Invariant($"#{Index} Post of #{Reference} short by {PostShortBy}"),
        OperationKind.Void or OperationKind.Retry => Invariant($"#{Index} {Kind} of #{Reference}"),
        OperationKind.Move => Invariant($"#{Index} Move partition[{Partition}] target[{Target}]") + (KillAtStep is null ? "" : " killed at " + KillAtStep)
            + (CancelAfterMilliseconds > 0 ? Invariant($" cancelled after {CancelAfterMilliseconds} ms") : "")
            + (ResumeAfterMilliseconds > 0 ? Invariant($", resumed after {ResumeAfterMilliseconds} ms") : ", left"),
        OperationKind.RestartCell => Invariant($"#{Index} Restart cell[{Cell}]"),
        OperationKind.CellDown => Invariant($"#{Index} Cell[{Cell}] down {DownMilliseconds} ms"),
        _ => Invariant($"#{Index} {Kind}"),
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Draws a schedule of operations from a seed: the same seed, the same schedule (the interleaving of its concurrent runners is the machine's).</summary>
public static class CellSchedule
{
    /// <summary>The steps a mover reports (PartitionMover), at which a simulated mover death can strike.</summary>
    public static readonly string[] MoveSteps = ["copy", "pause", "verify", "release", "released", "own", "flip", "grace"];

    private static readonly (OperationKind Kind, int Weight)[] Weights =
    [
        (OperationKind.Transfer, 40),
        (OperationKind.Hold, 10),
        (OperationKind.Post, 7),
        (OperationKind.Void, 4),
        (OperationKind.Retry, 8),
        (OperationKind.Read, 14),
        (OperationKind.Move, 9),
        (OperationKind.RestartCell, 3),
        (OperationKind.CellDown, 3),
    ];

    public static IReadOnlyList<ScheduledOperation> Draw(int seed, int count)
    {
        var random = new Random(seed);
        var total = Weights.Sum(weight => weight.Weight);
        var operations = new List<ScheduledOperation>(count);
        var holds = new List<int>();
        var transfers = new List<int>();
        for (var index = 0; index < count; index++)
        {
            var draw = random.Next(total);
            var kind = Weights.First(weight => (draw -= weight.Weight) < 0).Kind;
            if (kind is OperationKind.Post or OperationKind.Void && holds.Count == 0 || kind == OperationKind.Retry && transfers.Count == 0)
            {
                kind = OperationKind.Transfer;
            }
            var operation = kind switch
            {
                OperationKind.Transfer or OperationKind.Hold => new ScheduledOperation(index, kind)
                {
                    Route = (TransferRoute)random.Next(3),
                    Debit = random.Next(1_000),
                    Credit = random.Next(1_000),
                    // One in twenty asks for more than any customer has: a refusal the model must not count.
                    Amount = random.Next(20) == 0 ? 5_000_000 : random.Next(1, 200),
                },
                OperationKind.Post => new ScheduledOperation(index, kind) { Reference = holds[random.Next(holds.Count)], PostShortBy = random.Next(2) == 0 ? 0 : random.Next(1, 50) },
                OperationKind.Void => new ScheduledOperation(index, kind) { Reference = holds[random.Next(holds.Count)] },
                OperationKind.Retry => new ScheduledOperation(index, kind) { Reference = transfers[random.Next(transfers.Count)] },
                OperationKind.Move => new ScheduledOperation(index, kind)
                {
                    Partition = random.Next(1_000),
                    Target = random.Next(1_000),
                    KillAtStep = random.Next(5) < 2 ? MoveSteps[random.Next(MoveSteps.Length)] : null,
                    CancelAfterMilliseconds = random.Next(5) == 0 ? random.Next(5, 300) : 0,
                    ResumeAfterMilliseconds = random.Next(2) == 0 ? random.Next(50, 600) : 0,
                },
                OperationKind.RestartCell => new ScheduledOperation(index, kind) { Cell = random.Next(1_000) },
                OperationKind.CellDown => new ScheduledOperation(index, kind) { Cell = random.Next(1_000), DownMilliseconds = random.Next(200, 1_200) },
                _ => new ScheduledOperation(index, kind) { Debit = random.Next(1_000), Credit = random.Next(1_000) },
            };
            if (kind == OperationKind.Hold)
            {
                holds.Add(index);
            }
            if (kind is OperationKind.Transfer or OperationKind.Hold or OperationKind.Post or OperationKind.Void)
            {
                transfers.Add(index);
            }
            operations.Add(operation);
        }
        return operations;
    }
}

public enum TransferOutcome
{
    NotSent,
    Acknowledged,
    Refused,
    InDoubt,
}

/// <summary>One transfer a client sent, and what it was told (the last definite answer wins; an in-doubt one is resolved by sending it again).</summary>
public sealed class SentTransfer(int index, OperationKind kind, Transfer body, int holdIndex)
{
    public int Index { get; } = index;

    public OperationKind Kind { get; } = kind;

    public Transfer Body { get; } = body;

    /// <summary>For a post or void: the operation of its hold.</summary>
    public int HoldIndex { get; } = holdIndex;

    public UInt128 Id => Body.Id.ToUInt128();

    public UInt128 DebitAccount => Body.DebitAccountId.ToUInt128();

    public UInt128 CreditAccount => Body.CreditAccountId.ToUInt128();

    public TransferOutcome Outcome { get; set; }

    public TransferStatus Status { get; set; }

    /// <summary>The transfer as the ledger answered it the first time it was acknowledged.</summary>
    public Transfer? Answer { get; set; }
}

/// <summary>
/// What the clients were told, and the balances it implies: acknowledged transfers count, refused
/// ones must not be in the ledger, in-doubt ones are resolved before the check. Holds stay pending
/// until an acknowledged post (for its amount, or the hold's when 0) or void resolves them.
/// </summary>
public sealed class BankModel(int partitionCount)
{
    public readonly record struct Balances(long DebitsPending, long DebitsPosted, long CreditsPending, long CreditsPosted);

    public Dictionary<UInt128, Balances> Expected(IEnumerable<SentTransfer> sent, out long openSplitHolds, List<string> failures)
    {
        var all = sent.Where(transfer => transfer.Outcome == TransferOutcome.Acknowledged).OrderBy(transfer => transfer.Index).ToList();
        var balances = new Dictionary<UInt128, Balances>();
        var resolvedBy = new Dictionary<int, SentTransfer>();
        foreach (var resolution in all.Where(transfer => transfer.Kind is OperationKind.Post or OperationKind.Void))
        {
            if (!resolvedBy.TryAdd(resolution.HoldIndex, resolution))
            {
                failures.Add($"hold of operation #{resolution.HoldIndex} was resolved twice by acknowledged transfers: #{resolvedBy[resolution.HoldIndex].Index} and #{resolution.Index}");
            }
        }
        openSplitHolds = 0;
        var holds = all.Where(transfer => transfer.Kind == OperationKind.Hold).ToDictionary(transfer => transfer.Index);
        foreach (var transfer in all)
        {
            switch (transfer.Kind)
            {
                case OperationKind.Transfer:
                    Add(balances, transfer.DebitAccount, debitsPosted: transfer.Body.Amount);
                    Add(balances, transfer.CreditAccount, creditsPosted: transfer.Body.Amount);
                    break;
                case OperationKind.Hold when !resolvedBy.ContainsKey(transfer.Index):
                    Add(balances, transfer.DebitAccount, debitsPending: transfer.Body.Amount);
                    if (SamePartition(transfer))
                    {
                        Add(balances, transfer.CreditAccount, creditsPending: transfer.Body.Amount);
                    }
                    else
                    {
                        // A hold between partitions holds its credit side on the debit partition's transit account.
                        openSplitHolds += transfer.Body.Amount;
                    }
                    break;
                case OperationKind.Post:
                    if (!holds.TryGetValue(transfer.HoldIndex, out var hold))
                    {
                        failures.Add($"post #{transfer.Index} was acknowledged, but its hold #{transfer.HoldIndex} never was");
                        break;
                    }
                    var amount = transfer.Body.Amount == 0 ? hold.Body.Amount : transfer.Body.Amount;
                    Add(balances, transfer.DebitAccount, debitsPosted: amount);
                    Add(balances, transfer.CreditAccount, creditsPosted: amount);
                    break;
                default:
                    break;
            }
        }
        return balances;
    }

    private bool SamePartition(SentTransfer transfer) =>
        LedgerPartitioner.PartitionOf(transfer.DebitAccount, partitionCount) == LedgerPartitioner.PartitionOf(transfer.CreditAccount, partitionCount);

    private static void Add(Dictionary<UInt128, Balances> balances, UInt128 account, long debitsPending = 0, long debitsPosted = 0, long creditsPending = 0, long creditsPosted = 0)
    {
        var current = balances.GetValueOrDefault(account);
        balances[account] = new Balances(current.DebitsPending + debitsPending, current.DebitsPosted + debitsPosted,
            current.CreditsPending + creditsPending, current.CreditsPosted + creditsPosted);
    }
}
