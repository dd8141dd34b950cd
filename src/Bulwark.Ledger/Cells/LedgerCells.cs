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

    private readonly Lock _adding = new();
    private IReadOnlyList<LedgerEngine> _engines;
    private System.Collections.Immutable.ImmutableDictionary<string, LedgerEngine> _byName;

    public LedgerCells(IReadOnlyList<LedgerEngine> engines)
    {
        ArgumentNullException.ThrowIfNull(engines);
        if (engines.Count == 0)
        {
            throw new ArgumentException("A ledger process serves at least one cell.", nameof(engines));
        }
        var byName = System.Collections.Immutable.ImmutableDictionary.CreateBuilder<string, LedgerEngine>(StringComparer.Ordinal);
        foreach (var engine in engines)
        {
            if (!byName.TryAdd(engine.Options.CellName, engine))
            {
                throw new ArgumentException($"Cell '{engine.Options.CellName}' is configured twice.", nameof(engines));
            }
        }
        _engines = engines.ToArray();
        _byName = byName.ToImmutable();
    }

    /// <summary>The cells served now (a snapshot: a cell added to a running bank appears in the next one).</summary>
    public IReadOnlyList<LedgerEngine> Engines => Volatile.Read(ref _engines);

    /// <summary>Serves one more cell from now on (a cell added to the placement map of a running one-process bank); its engine is started.</summary>
    public void Add(LedgerEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        lock (_adding)
        {
            if (_byName.ContainsKey(engine.Options.CellName))
            {
                throw new ArgumentException($"Cell '{engine.Options.CellName}' is served already.", nameof(engine));
            }
            Volatile.Write(ref _byName, _byName.Add(engine.Options.CellName, engine));
            Volatile.Write(ref _engines, [.. _engines, engine]);
        }
    }

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
            var engines = Engines;
            return engines.Count == 1 ? engines[0] : null;
        }
        return Volatile.Read(ref _byName).GetValueOrDefault(cell);
    }

    /// <summary>
    /// The engine a gRPC call is for, by its <see cref="CellHeader"/>; FAILED_PRECONDITION naming the
    /// cells this process serves when it serves none such (nothing was done).
    /// </summary>
    public LedgerEngine For(global::Grpc.Core.ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var named = context.RequestHeaders.GetValue(CellHeader);
        return Find(named) ?? throw new global::Grpc.Core.RpcException(new global::Grpc.Core.Status(global::Grpc.Core.StatusCode.FailedPrecondition, string.IsNullOrEmpty(named)
            ? $"{CellHeader}: this process serves cells {Names}; name the cell the call is for."
            : $"{CellHeader}: this process serves cells {Names}, not '{named}'; the call reached the wrong process, so nothing was done."));
    }

    public string Names => string.Join(", ", Volatile.Read(ref _byName).Keys.Order(StringComparer.Ordinal));
}
