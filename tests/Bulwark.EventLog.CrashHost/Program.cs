using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Bulwark.EventLog;
using Bulwark.EventLog.Files;

// Usage:
//   Bulwark.EventLog.CrashHost append <directory> [writers]
//     Appends batches of 20 records from several tasks (each its own partitions) as fast as it can,
//     printing "partition:sequence" of a batch's last record only once the append returned
//     (durable). It never stops by itself: the crash test kills it.
//   Bulwark.EventLog.CrashHost bench <directory> <records> <batch> <writers>
//     Appends that many records of 200 bytes, then reopens the log; prints throughput, fsyncs and
//     the open time.
//   Bulwark.EventLog.CrashHost bench-nats <nats url> <records> <batch> <writers>
//     The same load on a JetStream stream (bank "bench"); prints throughput.

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Bulwark.EventLog.CrashHost append <directory> [writers] | bench <directory> <records> <batch> <writers>");
    return 2;
}
var directory = args[1];
const int PayloadBytes = 200;
const int PartitionsPerWriter = 4;

if (args[0] == "append")
{
    var writers = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4;
    await using var log = FileEventLog.Open(new FileEventLogOptions { Directory = directory, SegmentBytes = 256 * 1024 });
    var output = Console.Out;
    var outputLock = new Lock();
    await Task.WhenAll(Enumerable.Range(0, writers).Select(writer => Task.Run(async () =>
    {
        var next = new long[PartitionsPerWriter];
        for (var i = 0; ; i++)
        {
            var partition = (writer * PartitionsPerWriter) + (i % PartitionsPerWriter);
            var slot = i % PartitionsPerWriter;
            var batch = Enumerable.Range(1, 20).Select(k => Record(partition, next[slot] + k)).ToArray();
            await log.AppendAsync(batch);
            next[slot] += batch.Length;
            lock (outputLock)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{partition}:{next[slot]}"));
                output.Flush();
            }
        }
    })));
    return 0;
}

if (args[0] == "bench")
{
    var records = long.Parse(args[2], CultureInfo.InvariantCulture);
    var batch = int.Parse(args[3], CultureInfo.InvariantCulture);
    var writers = int.Parse(args[4], CultureInfo.InvariantCulture);
    long syncs = 0;
    using var listener = new MeterListener();
    listener.InstrumentPublished = (instrument, l) =>
    {
        if (instrument.Meter.Name == EventLogMetrics.MeterName && instrument.Name == "bulwark.event_log.syncs")
        {
            l.EnableMeasurementEvents(instrument);
        }
    };
    listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref syncs, value));
    listener.Start();
    using var metrics = new EventLogMetrics();
    var started = Stopwatch.GetTimestamp();
    await using (var log = FileEventLog.Open(new FileEventLogOptions { Directory = directory }, metrics: metrics))
    {
        var perWriter = records / writers;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(writer => Task.Run(async () =>
        {
            var next = new long[PartitionsPerWriter];
            for (long done = 0, i = 0; done < perWriter; i++)
            {
                var slot = (int)(i % PartitionsPerWriter);
                var partition = (writer * PartitionsPerWriter) + slot;
                var count = (int)Math.Min(batch, perWriter - done);
                var items = Enumerable.Range(1, count).Select(k => Record(partition, next[slot] + k)).ToArray();
                await log.AppendAsync(items);
                next[slot] += count;
                done += count;
            }
        })));
    }
    var elapsed = Stopwatch.GetElapsedTime(started);
    var appends = records / batch;
    var opened = Stopwatch.GetTimestamp();
    long found;
    await using (var reopened = FileEventLog.Open(new FileEventLogOptions { Directory = directory }))
    {
        found = reopened.RecordsAtOpen;
    }
    var openTime = Stopwatch.GetElapsedTime(opened);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"records={records} batch={batch} writers={writers} seconds={elapsed.TotalSeconds:F2} records_per_s={records / elapsed.TotalSeconds:F0} appends={appends} fsyncs={syncs} appends_per_fsync={(double)appends / Math.Max(1, syncs):F1} open_ms={openTime.TotalMilliseconds:F0} records_at_open={found}"));
    return 0;
}

if (args[0] == "bench-nats")
{
    var records = long.Parse(args[2], CultureInfo.InvariantCulture);
    var batch = int.Parse(args[3], CultureInfo.InvariantCulture);
    var writers = int.Parse(args[4], CultureInfo.InvariantCulture);
    var separate = args.Length > 5 && args[5] == "separate";
    var logs = new List<IEventLog>();
    for (var i = 0; i < (separate ? writers : 1); i++)
    {
        logs.Add(await Bulwark.EventLog.JetStream.JetStreamEventLog.OpenAsync(new Bulwark.EventLog.JetStream.JetStreamEventLogOptions { Url = directory, Bank = "bench" }));
    }
    var started = Stopwatch.GetTimestamp();
    var perWriter = records / writers;
    await Task.WhenAll(Enumerable.Range(0, writers).Select(writer => Task.Run(async () =>
    {
        var next = new long[PartitionsPerWriter];
        for (long done = 0, i = 0; done < perWriter; i++)
        {
            var slot = (int)(i % PartitionsPerWriter);
            var partition = (writer * PartitionsPerWriter) + slot;
            var count = (int)Math.Min(batch, perWriter - done);
            var items = Enumerable.Range(1, count).Select(k => Record(partition, next[slot] + k)).ToArray();
            await logs[separate ? writer : 0].AppendAsync(items);
            next[slot] += count;
            done += count;
        }
    })));
    var elapsed = Stopwatch.GetElapsedTime(started);
    foreach (var log in logs)
    {
        await log.DisposeAsync();
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"jetstream separate={separate} records={perWriter * writers} batch={batch} writers={writers} seconds={elapsed.TotalSeconds:F2} records_per_s={perWriter * writers / elapsed.TotalSeconds:F0}"));
    return 0;
}

Console.Error.WriteLine($"unknown mode {args[0]}");
return 2;

static EventRecord Record(int partition, long sequence)
{
    var payload = new byte[PayloadBytes];
    BitConverter.TryWriteBytes(payload, sequence);
    payload[8] = (byte)partition;
    return new EventRecord(partition, sequence, "a", sequence, 1, payload);
}
