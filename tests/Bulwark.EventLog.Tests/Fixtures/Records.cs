using System.Text;

namespace Bulwark.EventLog.Tests.Fixtures;

/// <summary>Test records: a payload that names its place, so a wrong record is easy to see.</summary>
public static class Records
{
    public static EventRecord Make(int partition, long sequence, string body = "", string cell = "a", int kind = 7) =>
        new(partition, sequence, cell, 1000 + sequence, kind, Encoding.UTF8.GetBytes($"p{partition}s{sequence}{body}"));

    public static List<EventRecord> Range(int partition, long from, long to, string body = "") =>
        [.. Enumerable.Range(0, (int)(to - from + 1)).Select(i => Make(partition, from + i, body))];

    public static async Task<List<EventRecord>> ReadAllAsync(this IAsyncEnumerable<EventRecord> records)
    {
        var list = new List<EventRecord>();
        await foreach (var record in records)
        {
            list.Add(record);
        }
        return list;
    }
}
