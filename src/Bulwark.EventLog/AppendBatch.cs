namespace Bulwark.EventLog;

/// <summary>The shape checks every implementation makes before looking at the store, and the batch grouped by partition.</summary>
internal static class AppendBatch
{
    /// <summary>
    /// The batch's records by partition, in the order each partition first appears; throws
    /// <see cref="EventLogError.Invalid"/> when a partition's records do not go up one at a time.
    /// </summary>
    public static List<List<EventRecord>> ByPartition(IReadOnlyList<EventRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count > EventLogLimits.AppendRecordsMax)
        {
            throw new EventLogException(EventLogError.Invalid, $"An append carries at most {EventLogLimits.AppendRecordsMax} records (this one: {records.Count}).");
        }
        var groups = new Dictionary<int, List<EventRecord>>();
        var order = new List<List<EventRecord>>();
        foreach (var record in records)
        {
            ArgumentNullException.ThrowIfNull(record);
            if (!groups.TryGetValue(record.Partition, out var group))
            {
                group = [];
                groups.Add(record.Partition, group);
                order.Add(group);
            }
            else if (record.Sequence != group[^1].Sequence + 1)
            {
                throw new EventLogException(EventLogError.Invalid,
                    $"Partition {record.Partition}: within one append, sequence {record.Sequence} follows {group[^1].Sequence}; a partition's records must go up one at a time.",
                    record.Partition, record.Sequence);
            }
            group.Add(record);
        }
        return order;
    }

    /// <summary>Refuses a group whose first record is past the next sequence after <paramref name="last"/>.</summary>
    public static void CheckNoGap(List<EventRecord> group, long last)
    {
        var first = group[0];
        if (first.Sequence > last + 1)
        {
            throw new EventLogException(EventLogError.Gap,
                $"Partition {first.Partition}: sequence {first.Sequence} does not follow the last stored sequence {last} (expected {last + 1}); nothing of this append was written.",
                first.Partition, first.Sequence);
        }
    }

    public static EventLogException Conflict(EventRecord offered, EventRecord stored, string location) => new(EventLogError.Conflict,
        $"Partition {offered.Partition} sequence {offered.Sequence} is already stored with a different body (stored: {stored}; offered: {offered}); nothing of this append was written.",
        offered.Partition, offered.Sequence, location);
}
