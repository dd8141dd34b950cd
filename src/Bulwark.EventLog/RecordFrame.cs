using System.Buffers.Binary;
using System.Text;

namespace Bulwark.EventLog;

/// <summary>
/// The encoding of one record, the same in a segment file and in a JetStream message body, so a
/// record is checksummed end to end whichever store holds it.
/// <code>
/// offset  size  field
/// 0       4     body length L (little-endian)
/// 4       1     format version (1)
/// 5       3     zero
/// 8       L     body (version 1: partition i32, sequence i64, cell sequence i64, kind i32,
///               cell name length u8, cell name UTF-8, payload)
/// 8+L     4     CRC-32C of bytes 0 .. 8+L
/// </code>
/// The length, version and checksum positions are the framing and never change; a new version may
/// change only the body. So a reader can always tell a torn or corrupt frame (bad checksum) from
/// a sound frame it cannot read (unknown version).
/// </summary>
internal static class RecordFrame
{
    public const byte Version = 1;
    public const int HeaderBytes = 8;
    public const int ChecksumBytes = 4;
    public const int OverheadBytes = HeaderBytes + ChecksumBytes;
    private const int BodyFixedBytes = 4 + 8 + 8 + 4 + 1;
    public const int BodyBytesMax = BodyFixedBytes + EventLogLimits.CellNameBytesMax + EventLogLimits.PayloadBytesMax;

    public static int EncodedLength(EventRecord record) =>
        OverheadBytes + BodyFixedBytes + Encoding.UTF8.GetByteCount(record.Cell) + record.Payload.Length;

    /// <summary>Writes <paramref name="record"/> at the start of <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Encode(EventRecord record, Span<byte> destination)
    {
        var cellBytes = Encoding.UTF8.GetByteCount(record.Cell);
        var bodyLength = BodyFixedBytes + cellBytes + record.Payload.Length;
        BinaryPrimitives.WriteInt32LittleEndian(destination, bodyLength);
        destination[4] = Version;
        destination[5..8].Clear();
        var body = destination.Slice(HeaderBytes, bodyLength);
        BinaryPrimitives.WriteInt32LittleEndian(body, record.Partition);
        BinaryPrimitives.WriteInt64LittleEndian(body[4..], record.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(body[12..], record.CellSequence);
        BinaryPrimitives.WriteInt32LittleEndian(body[20..], record.Kind);
        body[24] = (byte)cellBytes;
        Encoding.UTF8.GetBytes(record.Cell, body.Slice(BodyFixedBytes, cellBytes));
        record.Payload.Span.CopyTo(body[(BodyFixedBytes + cellBytes)..]);
        var checksum = Crc32C.Compute(destination[..(HeaderBytes + bodyLength)]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[(HeaderBytes + bodyLength)..], checksum);
        return OverheadBytes + bodyLength;
    }

    public static byte[] Encode(EventRecord record)
    {
        var bytes = new byte[EncodedLength(record)];
        Encode(record, bytes);
        return bytes;
    }

    /// <summary>
    /// The frame's total length from its header, or null when the header is incomplete or its
    /// length is impossible (then the bytes are not a frame: torn, zeroed or corrupt).
    /// </summary>
    public static int? FrameLength(ReadOnlySpan<byte> source)
    {
        if (source.Length < HeaderBytes)
        {
            return null;
        }
        var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(source);
        return bodyLength is < BodyFixedBytes or > BodyBytesMax ? null : OverheadBytes + bodyLength;
    }

    /// <summary>Reads the frame at the start of <paramref name="source"/>, which holds at least the whole frame.</summary>
    public static FrameStatus TryDecode(ReadOnlySpan<byte> source, out EventRecord? record, out int length, out byte version)
    {
        record = null;
        version = source.Length > 4 ? source[4] : (byte)0;
        length = FrameLength(source) ?? 0;
        if (length == 0)
        {
            return source.Length < HeaderBytes ? FrameStatus.Incomplete : FrameStatus.BadLength;
        }
        if (source.Length < length)
        {
            return FrameStatus.Incomplete;
        }
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(source[(length - ChecksumBytes)..]);
        if (Crc32C.Compute(source[..(length - ChecksumBytes)]) != stored)
        {
            return FrameStatus.BadChecksum;
        }
        if (version != Version)
        {
            return FrameStatus.UnknownVersion;
        }
        var body = source[HeaderBytes..(length - ChecksumBytes)];
        var cellBytes = body[24];
        if (BodyFixedBytes + cellBytes > body.Length)
        {
            return FrameStatus.BadLength;
        }
        var partition = BinaryPrimitives.ReadInt32LittleEndian(body);
        var sequence = BinaryPrimitives.ReadInt64LittleEndian(body[4..]);
        var cellSequence = BinaryPrimitives.ReadInt64LittleEndian(body[12..]);
        if (partition < 0 || sequence < 1 || cellSequence < 0)
        {
            return FrameStatus.BadLength;
        }
        var cell = Encoding.UTF8.GetString(body.Slice(BodyFixedBytes, cellBytes));
        var payload = body[(BodyFixedBytes + cellBytes)..].ToArray();
        record = new EventRecord(partition, sequence, cell, cellSequence, BinaryPrimitives.ReadInt32LittleEndian(body[20..]), payload);
        return FrameStatus.Ok;
    }

    /// <summary>A reader's words for a frame that is not sound, naming the version when that is the reason.</summary>
    public static string Describe(FrameStatus status, byte version) => status switch
    {
        FrameStatus.BadChecksum => "bad checksum",
        FrameStatus.UnknownVersion => $"unknown format version {version} (this code reads version {Version})",
        FrameStatus.BadLength => "malformed frame (impossible length)",
        FrameStatus.Incomplete => "incomplete frame",
        _ => status.ToString(),
    };

    public static EventLogError ErrorOf(FrameStatus status) =>
        status == FrameStatus.UnknownVersion ? EventLogError.UnknownVersion : EventLogError.Corrupt;
}

internal enum FrameStatus
{
    Ok,
    Incomplete,
    BadLength,
    BadChecksum,
    UnknownVersion,
}
