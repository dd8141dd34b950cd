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
