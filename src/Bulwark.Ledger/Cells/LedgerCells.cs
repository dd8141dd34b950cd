namespace Bulwark.Ledger.Cells;

/// <summary>
/// The cells this process serves: one in a cluster (one ledger instance, one cell), several in the
/// one-process bank. A call names its cell in the <see cref="CellHeader"/> request header (the
/// placement router sets it); a process of one cell also serves calls that name none.
/// </summary>
public sealed class LedgerCells
{
    /// <summary>The request header naming the cell a call is for.</summary>
    public const string CellHeader = "bulwark-cell";

    /// <summary>The response trailer that carries a serialized PartitionRefusal on ListAccountTransfers' ABORTED.</summary>
    public const string RefusalTrailer = "bulwark-partition-refusal-bin";

    private readonly Dictionary<string, LedgerEngine> _byName;

    public LedgerCells(IReadOnlyList<LedgerEngine> engines)
    {
        ArgumentNullException.ThrowIfNull(engines);
        if (engines.Count == 0)
        {
            throw new ArgumentException("A ledger process serves at least one cell.", nameof(engines));
        }
        Engines = engines;
        _byName = new Dictionary<string, LedgerEngine>(StringComparer.Ordinal);
        foreach (var engine in engines)
        {
            if (!_byName.TryAdd(engine.Options.CellName, engine))
            {
                throw new ArgumentException($"Cell '{engine.Options.CellName}' is configured twice.", nameof(engines));
            }
        }
    }

    public IReadOnlyList<LedgerEngine> Engines { get; }

    /// <summary>The service name cell <paramref name="cell"/> registers under: <c>ledger-NAME</c>.</summary>
    public static string ServiceName(string cell) => "ledger-" + cell;

    /// <summary>
    /// The engine for a call naming <paramref name="cell"/> (null or empty: none named); null when
    /// this process does not serve that cell, or serves several and the call named none.
    /// </summary>
    public LedgerEngine? Find(string? cell)
    {
        if (string.IsNullOrEmpty(cell))
        {
            return Engines.Count == 1 ? Engines[0] : null;
        }
        return _byName.GetValueOrDefault(cell);
    }

    public string Names => string.Join(", ", _byName.Keys);
}
