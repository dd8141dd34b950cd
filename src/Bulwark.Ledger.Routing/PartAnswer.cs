using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Routing;

/// <summary>
/// A cell's answer to one part of a call: a result per item sent (null where the cell refused the
/// item's partition) and the refusals that say why.
/// </summary>
internal sealed record PartAnswer<TResult>(IReadOnlyList<TResult?> Results, IReadOnlyList<PartitionRefusal> Refusals)
    where TResult : class;
