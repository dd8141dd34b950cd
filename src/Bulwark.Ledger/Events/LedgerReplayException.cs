namespace Bulwark.Ledger.Events;

/// <summary>
/// A replay or a verification refused: the store is not one it may write, the log holds a record
/// it will not apply (naming the partition and sequence), or the log and the placement map
/// disagree. The message is for the operator; nothing was claimed (no partition owned) when it is thrown.
/// </summary>
public sealed class LedgerReplayException : Exception
{
    public LedgerReplayException()
    {
    }

    public LedgerReplayException(string message) : base(message)
    {
    }

    public LedgerReplayException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
