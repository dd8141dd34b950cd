using System.Runtime.CompilerServices;

namespace Bulwark.EventLog;

public static class EventLogExtensions
{
    /// <summary>
    /// Every record of <paramref name="partitions"/> (replaying a cell: the partitions it owns),
    /// partition after partition in the order given, each in sequence order from 1. A bad record
    /// stops the read as in <see cref="IEventLog.ReadAsync"/>.
    /// </summary>
    public static async IAsyncEnumerable<EventRecord> ReadPartitionsAsync(this IEventLog log, IEnumerable<int> partitions,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(partitions);
        foreach (var partition in partitions.Distinct())
        {
            await foreach (var record in log.ReadAsync(partition, 1, cancellationToken).ConfigureAwait(false))
            {
                yield return record;
            }
        }
    }
}
