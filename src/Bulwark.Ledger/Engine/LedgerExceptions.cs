namespace Bulwark.Ledger;

/// <summary>
/// The ledger could not decide: its batch failed to commit, or it is not running. Nothing of the
/// batch was written, so retrying with the same transfer ids is safe (gRPC UNAVAILABLE).
/// </summary>
public sealed class LedgerUnavailableException : Exception
{
    public LedgerUnavailableException()
    {
    }

    public LedgerUnavailableException(string message)
        : base(message)
    {
    }

    public LedgerUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// This cell does not serve the partition a request is about (docs/internals/cells.md): never "not
/// found". gRPC ABORTED with the refusal in the trailer; the router retries at the owner.
/// </summary>
public sealed class LedgerWrongOwnerException : Exception
{
    public LedgerWrongOwnerException()
    {
    }

    public LedgerWrongOwnerException(string message)
        : base(message)
    {
    }

    public LedgerWrongOwnerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public LedgerWrongOwnerException(Cells.LedgerRefusal refusal)
        : base(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Partition {refusal.Partition} is not served by this cell ({refusal.Reason}); its owner is '{refusal.OwnerCell}' at epoch {refusal.OwnerEpoch}."))
    {
        Refusal = refusal;
    }

    public Cells.LedgerRefusal Refusal { get; }
}

/// <summary>
/// A partition-move step was refused because the cell is not in the state the step expects (a
/// partition it does not own, a copy not verified, a pause that ran out): nothing was written. The
/// message says why; gRPC FAILED_PRECONDITION.
/// </summary>
public sealed class LedgerMoveRefusedException : Exception
{
    public LedgerMoveRefusedException()
    {
    }

    public LedgerMoveRefusedException(string message)
        : base(message)
    {
    }

    public LedgerMoveRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
