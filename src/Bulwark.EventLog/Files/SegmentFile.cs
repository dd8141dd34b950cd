using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace Bulwark.EventLog.Files;

/// <summary>
/// One segment file, <c>segment-00000001.log</c>: a 16-byte header (the magic "BWEVLOG1", the
/// segment format version, zero) followed by record frames (<see cref="RecordFrame"/>) end to end.
/// A record's place in the log is packed into one long: segment number and offset.
/// </summary>
internal sealed class SegmentFile : IDisposable
{
    public const int HeaderBytes = 16;
    public const int FormatVersion = 1;
    public const long OffsetMax = (1L << OffsetBits) - 1;
    private const int OffsetBits = 40;
    private const string Prefix = "segment-";
    private const string Suffix = ".log";
    private static readonly byte[] Magic = "BWEVLOG1"u8.ToArray();

    private SegmentFile(long number, string path, SafeFileHandle handle, long length)
    {
        Number = number;
        Path = path;
        Handle = handle;
        Length = length;
    }

    public long Number { get; }

    public string Path { get; }

    public string Name => System.IO.Path.GetFileName(Path);

    /// <summary>Read and write; RandomAccess reads and writes at explicit offsets, so readers and the writer share it.</summary>
    public SafeFileHandle Handle { get; }

    /// <summary>Bytes written so far (the writer's view; readers go by the index).</summary>
    public long Length { get; set; }

    public static long Position(long segmentNumber, long offset) => (segmentNumber << OffsetBits) | offset;

    public static (long Segment, long Offset) Unpack(long position) => (position >> OffsetBits, position & OffsetMax);

    public static string FileName(long number) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}{number:D8}{Suffix}");

    /// <summary>The segment numbers in <paramref name="directory"/>, ascending.</summary>
    public static List<long> List(string directory)
    {
        var numbers = new List<long>();
        foreach (var path in Directory.EnumerateFiles(directory, Prefix + "*" + Suffix))
        {
            var name = System.IO.Path.GetFileName(path);
            var digits = name[Prefix.Length..^Suffix.Length];
            if (long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0)
            {
                numbers.Add(number);
            }
        }
        numbers.Sort();
        return numbers;
    }

    public static SegmentFile Open(string directory, long number)
    {
        var path = System.IO.Path.Combine(directory, FileName(number));
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        return new SegmentFile(number, path, handle, RandomAccess.GetLength(handle));
    }

    /// <summary>Opens the segment to read only, beside its writer (which may be appending to it).</summary>
    public static SegmentFile OpenToRead(string directory, long number)
    {
        var path = System.IO.Path.Combine(directory, FileName(number));
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new SegmentFile(number, path, handle, RandomAccess.GetLength(handle));
    }

    /// <summary>Creates the segment with its header, synced, and syncs the directory so the new name survives a crash.</summary>
    public static SegmentFile Create(string directory, long number)
    {
        var path = System.IO.Path.Combine(directory, FileName(number));
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite);
        var segment = new SegmentFile(number, path, handle, 0);
        segment.WriteHeader();
        DirectorySync.Sync(directory);
        return segment;
    }

    /// <summary>(Re)writes the header: for a new segment, or the last one whose header a crash cut short.</summary>
    public void WriteHeader()
    {
        Span<byte> header = stackalloc byte[HeaderBytes];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], FormatVersion);
        RandomAccess.SetLength(Handle, 0);
        RandomAccess.Write(Handle, header, 0);
        RandomAccess.FlushToDisk(Handle);
        Length = HeaderBytes;
    }

    /// <summary>Null when the header is sound, else what is wrong with it.</summary>
    public string? CheckHeader()
    {
        if (Length < HeaderBytes)
        {
            return $"header cut short ({Length} of {HeaderBytes} bytes)";
        }
        Span<byte> header = stackalloc byte[HeaderBytes];
        RandomAccess.Read(Handle, header, 0);
        if (!header[..8].SequenceEqual(Magic))
        {
            return "not an event-log segment (bad magic)";
        }
        var version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        return version == FormatVersion ? null : $"unknown segment format version {version} (this code reads version {FormatVersion})";
    }

    public void Truncate(long length)
    {
        RandomAccess.SetLength(Handle, length);
        RandomAccess.FlushToDisk(Handle);
        Length = length;
    }

    public void Dispose() => Handle.Dispose();
}
