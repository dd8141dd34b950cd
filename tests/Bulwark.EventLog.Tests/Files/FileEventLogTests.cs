using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Bulwark.EventLog.Files;
using Bulwark.EventLog.Tests.Fixtures;

namespace Bulwark.EventLog.Tests.Files;

/// <summary>What only the file store has: torn tails, corruption on disk, the directory lock, segments, a crash mid-append.</summary>
public sealed class FileEventLogTests : IDisposable
{
    private const int HeaderBytes = 16;
    private readonly TempDirectory _directory = new();

    private FileEventLog Open(long segmentBytes = 1024 * 1024) =>
        FileEventLog.Open(new FileEventLogOptions { Directory = _directory.Path, SegmentBytes = segmentBytes });

    private string Segment(int number) => Path.Combine(_directory.Path, $"segment-{number:D8}.log");

    private static int FrameLength(EventRecord record) => RecordFrame.EncodedLength(record);

    private async Task WriteAsync(params EventRecord[] records)
    {
        await using var log = Open();
        await log.AppendAsync(records);
    }

    private static void Patch(string path, long offset, Action<FileStream> change)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.Position = offset;
        change(stream);
        stream.Flush(flushToDisk: true);
    }

    private static void FlipByte(string path, long offset) => Patch(path, offset, stream =>
    {
        var value = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)(value ^ 0x5A));
    });

    [Fact]
    public async Task Open_TornTail_TruncatedAndAppendsContinue()
    {
        var records = Records.Range(1, 1, 3);
        await WriteAsync([.. records]);
        var fullLength = new FileInfo(Segment(1)).Length;
        // Half of a fourth record, as a crash mid-write leaves it.
        var torn = RecordFrame.Encode(Records.Make(1, 4));
        Patch(Segment(1), fullLength, stream => stream.Write(torn, 0, torn.Length / 2));

        await using var log = Open();

        Assert.Equal(fullLength, new FileInfo(Segment(1)).Length);
        Assert.Equal(3, await log.GetLastSequenceAsync(1));
        await log.AppendAsync([Records.Make(1, 4)]);
        Assert.Equal([1, 2, 3, 4], (await log.ReadAsync(1).ReadAllAsync()).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Open_ZerosAtTheEnd_TruncatedAsATornTail()
    {
        await WriteAsync([.. Records.Range(1, 1, 2)]);
        var fullLength = new FileInfo(Segment(1)).Length;
        Patch(Segment(1), fullLength, stream => stream.Write(new byte[4096]));

        await using var log = Open();

        Assert.Equal(fullLength, new FileInfo(Segment(1)).Length);
        Assert.Equal(2, await log.GetLastSequenceAsync(1));
    }

    [Fact]
    public async Task Open_LastRecordWithBadChecksumEndingTheFile_TruncatedAsATornTail()
    {
        await WriteAsync([.. Records.Range(1, 1, 3)]);
        var length = new FileInfo(Segment(1)).Length;
        FlipByte(Segment(1), length - 10);

        await using var log = Open();

        Assert.Equal(2, await log.GetLastSequenceAsync(1));
    }

    [Fact]
    public async Task Open_CorruptRecordFollowedByValidData_RefusedNamingFileAndOffset()
    {
        var records = Records.Range(1, 1, 3);
        await WriteAsync([.. records]);
        var secondOffset = HeaderBytes + FrameLength(records[0]);
        FlipByte(Segment(1), secondOffset + 20);
        var before = File.ReadAllBytes(Segment(1));

        var error = Assert.Throws<EventLogException>(() => Open());

        Assert.Equal(EventLogError.Corrupt, error.Error);
        Assert.Equal($"segment-00000001.log offset {secondOffset}", error.Location);
        Assert.Contains("bad checksum", error.Message, StringComparison.Ordinal);
        Assert.Contains("not opened for append", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(Segment(1)));
    }

    [Fact]
    public async Task Open_TornLookingEndOfAnEarlierSegment_RefusedAsCorruption()
    {
        await using (var log = Open(segmentBytes: 4096))
        {
            for (var i = 1; i <= 60; i += 10)
            {
                await log.AppendAsync(Records.Range(1, i, i + 9, body: new string('x', 100)));
            }
        }
        Assert.True(File.Exists(Segment(2)));
        var firstLength = new FileInfo(Segment(1)).Length;
        Patch(Segment(1), firstLength - 3, stream => stream.SetLength(firstLength - 3));

        var error = Assert.Throws<EventLogException>(() => Open(segmentBytes: 4096));

        Assert.Equal(EventLogError.Corrupt, error.Error);
        Assert.Contains("segment-00000001.log", error.Location, StringComparison.Ordinal);
        Assert.Contains("later segments follow it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_UnknownFormatVersion_RefusedNamingTheVersion()
    {
        var records = Records.Range(1, 1, 2);
        await WriteAsync([.. records]);
        RewriteVersion(Segment(1), HeaderBytes + FrameLength(records[0]), 2);

        var error = Assert.Throws<EventLogException>(() => Open());

        Assert.Equal(EventLogError.UnknownVersion, error.Error);
        Assert.Contains("unknown format version 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_BadChecksumAfterOpen_StopsNamingPartitionSequenceAndOffset()
    {
        var records = Records.Range(6, 1, 3);
        await using var log = Open();
        await log.AppendAsync(records);
        var secondOffset = HeaderBytes + FrameLength(records[0]);
        FlipByte(Segment(1), secondOffset + 30);

        var read = new List<long>();
        var error = await Assert.ThrowsAsync<EventLogException>(async () =>
        {
            await foreach (var record in log.ReadAsync(6))
            {
                read.Add(record.Sequence);
            }
        });

        Assert.Equal([1], read);
        Assert.Equal(EventLogError.Corrupt, error.Error);
        Assert.Equal(6, error.Partition);
        Assert.Equal(2, error.Sequence);
        Assert.Equal($"segment-00000001.log offset {secondOffset}", error.Location);
        Assert.Contains("Partition 6 sequence 2", error.Message, StringComparison.Ordinal);
        Assert.Contains("bad checksum", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_UnknownVersionAfterOpen_StopsNamingIt()
    {
        var records = Records.Range(6, 1, 2);
        await using var log = Open();
        await log.AppendAsync(records);
        RewriteVersion(Segment(1), HeaderBytes, 9);

        var error = await Assert.ThrowsAsync<EventLogException>(() => log.ReadAsync(6).ReadAllAsync());

        Assert.Equal(EventLogError.UnknownVersion, error.Error);
        Assert.Equal(1, error.Sequence);
        Assert.Contains("unknown format version 9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_SecondOpener_RefusedWithAClearMessage()
    {
        await using var first = Open();

        var error = Assert.Throws<EventLogException>(() => Open());

        Assert.Equal(EventLogError.Locked, error.Error);
        Assert.Contains("is open by another writer", error.Message, StringComparison.Ordinal);
        await first.AppendAsync([Records.Make(1, 1)]);
    }

    /// <summary>
    /// A snapshot reads the log beside its writer (a running bank holds the lock): what was whole
    /// when it opened, not a frame being written at the end (nor does it cut it: the file is
    /// untouched), and it refuses appends. A new snapshot sees what the writer added since.
    /// </summary>
    [Fact]
    public async Task OpenSnapshot_BesideTheWriter_ReadsWholeRecordsOnly_WritesNothing_RefusesAppends()
    {
        await using var writer = Open();
        await writer.AppendAsync(Records.Range(1, 1, 3));
        // Half a frame at the end, as a writer caught mid-append leaves it.
        var half = RecordFrame.Encode(Records.Make(1, 4)).AsSpan(0, 10).ToArray();
        var length = new FileInfo(Segment(1)).Length;
        Patch(Segment(1), length, stream => stream.Write(half));

        await using (var snapshot = FileEventLog.OpenSnapshot(_directory.Path))
        {
            Assert.True(snapshot.IsSnapshot);
            Assert.Equal([1, 2, 3], (await snapshot.ReadAsync(1).ReadAllAsync()).Select(record => record.Sequence));
            Assert.Equal(3, await snapshot.GetLastSequenceAsync(1));
            var refused = await Assert.ThrowsAsync<EventLogException>(() => snapshot.AppendAsync([Records.Make(2, 1)]));
            Assert.Equal(EventLogError.Invalid, refused.Error);
        }
        Assert.Equal(length + half.Length, new FileInfo(Segment(1)).Length);
        Patch(Segment(1), length, stream => stream.SetLength(length));

        await writer.AppendAsync(Records.Range(1, 4, 5));
        await using var later = FileEventLog.OpenSnapshot(_directory.Path);
        Assert.Equal([1, 2, 3, 4, 5], (await later.ReadAsync(1).ReadAllAsync()).Select(record => record.Sequence));
    }

    [Fact]
    public async Task Open_AfterTheFirstWriterClosed_Allowed()
    {
        await WriteAsync(Records.Make(1, 1));

        await using var log = Open();

        Assert.Equal(1, await log.GetLastSequenceAsync(1));
    }

    [Fact]
    public async Task Append_PastTheSegmentSize_RollsAndReopenReadsEverySegment()
    {
        await using (var log = Open(segmentBytes: 4096))
        {
            for (var i = 1; i <= 200; i += 10)
            {
                await log.AppendAsync([.. Records.Range(1, i, i + 9, body: new string('y', 64)), .. Records.Range(2, i, i + 9)]);
            }
        }

        Assert.True(File.Exists(Segment(3)));
        await using var reopened = Open(segmentBytes: 4096);
        Assert.Equal(400, reopened.RecordsAtOpen);
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), (await reopened.ReadAsync(1).ReadAllAsync()).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Open_MissingMiddleSegment_RefusedNamingIt()
    {
        await using (var log = Open(segmentBytes: 4096))
        {
            for (var i = 1; i <= 200; i += 10)
            {
                await log.AppendAsync(Records.Range(1, i, i + 9, body: new string('y', 64)));
            }
        }
        File.Delete(Segment(2));

        var error = Assert.Throws<EventLogException>(() => Open(segmentBytes: 4096));

        Assert.Equal(EventLogError.Corrupt, error.Error);
        Assert.Contains("no segment segment-00000002.log", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Crash_ProcessKilledMidAppend_EveryAcknowledgedRecordThereAndTheLogOpens()
    {
        var acknowledged = await RunAndKillCrashHostAsync();

        await using var log = Open();
        foreach (var (partition, sequence) in acknowledged.GroupBy(a => a.Partition).Select(g => (g.Key, g.Max(a => a.Sequence))))
        {
            var last = await log.GetLastSequenceAsync(partition);
            Assert.True(last >= sequence, $"partition {partition}: acknowledged up to {sequence}, the log has {last}");
            var read = await log.ReadAsync(partition).ReadAllAsync();
            Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (long)i), read.Select(r => r.Sequence));
        }
        // And it takes the next record of each partition.
        var next = acknowledged.Select(a => a.Partition).Distinct().ToArray();
        foreach (var partition in next)
        {
            var last = await log.GetLastSequenceAsync(partition);
            await log.AppendAsync([Records.Make(partition, last + 1)]);
        }
    }

    private async Task<List<(int Partition, long Sequence)>> RunAndKillCrashHostAsync()
    {
        const int Wanted = 400;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])[CrashHostPath(), "append", _directory.Path, "4"])
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the crash host.");
        var errors = process.StandardError.ReadToEndAsync();
        var acknowledged = new List<(int, long)>();
        try
        {
            // A bound on a hung child, not a timing assertion.
            using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (acknowledged.Count < Wanted && await process.StandardOutput.ReadLineAsync(bound.Token) is { } line)
            {
                acknowledged.Add(Parse(line));
            }
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        while (await process.StandardOutput.ReadLineAsync() is { } rest)
        {
            if (rest.Contains(':', StringComparison.Ordinal))
            {
                acknowledged.Add(Parse(rest));
            }
        }
        Assert.True(acknowledged.Count >= Wanted, $"The crash host stopped after {acknowledged.Count} acknowledgements: {await errors}");
        return acknowledged;
    }

    private static (int, long) Parse(string line)
    {
        var parts = line.Split(':');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    private static string CrashHostPath()
    {
        var recorded = typeof(FileEventLogTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(attribute => attribute.Key == "CrashHostPath")?.Value;
        return !string.IsNullOrEmpty(recorded) && File.Exists(recorded)
            ? recorded
            : throw new InvalidOperationException($"The crash host was not found at '{recorded}'.");
    }

    /// <summary>Gives the frame at <paramref name="offset"/> another version byte and a checksum that matches: a sound frame this code cannot read.</summary>
    private static void RewriteVersion(string path, long offset, byte version) => Patch(path, offset, stream =>
    {
        var header = new byte[8];
        stream.ReadExactly(header);
        var length = BinaryPrimitives.ReadInt32LittleEndian(header);
        var frame = new byte[8 + length + 4];
        stream.Position = offset;
        stream.ReadExactly(frame);
        frame[4] = version;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8 + length), Crc32C.Compute(frame.AsSpan(0, 8 + length)));
        stream.Position = offset;
        stream.Write(frame);
    });

    public void Dispose() => _directory.Dispose();
}
