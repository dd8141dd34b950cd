using System.Buffers;
using System.Buffers.Binary;

namespace Bulwark.Iso8583;

/// <summary>What a frame read found.</summary>
public enum Iso8583FrameStatus
{
    /// <summary>The buffer holds no complete frame yet; read more and try again.</summary>
    NeedMoreData,

    /// <summary>A complete frame was read.</summary>
    Frame,

    /// <summary>
    /// The length header is impossible. The stream can no longer be split into messages, so the
    /// connection must be closed.
    /// </summary>
    Error,
}

/// <summary>
/// TCP framing: every message is preceded by its length as a 2-byte big-endian integer (the header
/// itself not counted).
/// </summary>
public static class Iso8583Framing
{
    /// <summary>Writes the 2-byte length header for a message of <paramref name="messageLength"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The length cannot be expressed in two bytes.</exception>
    public static void WriteHeader(Span<byte> destination, int messageLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(messageLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(messageLength, Iso8583Limits.FrameMessageBytesMax);
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)messageLength);
    }

    /// <summary>Writes a header and an already encoded message; returns the bytes written.</summary>
    /// <exception cref="ArgumentException">The destination is too short or the message too long.</exception>
    public static int WriteFrame(Span<byte> destination, ReadOnlySpan<byte> message)
    {
        var frameLength = Iso8583Limits.FrameHeaderBytes + message.Length;
        if (destination.Length < frameLength)
        {
            throw new ArgumentException($"The destination has {destination.Length} bytes; the frame needs {frameLength}.", nameof(destination));
        }

        WriteHeader(destination, message.Length);
        message.CopyTo(destination[Iso8583Limits.FrameHeaderBytes..]);
        return frameLength;
    }

    /// <summary>Writes a header and an already encoded message; returns the bytes written.</summary>
    /// <exception cref="ArgumentException">The message is too long.</exception>
    public static int WriteFrame(IBufferWriter<byte> writer, ReadOnlySpan<byte> message)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var written = WriteFrame(writer.GetSpan(Iso8583Limits.FrameHeaderBytes + message.Length), message);
        writer.Advance(written);
        return written;
    }

    /// <summary>
    /// Tries to read one frame from the start of <paramref name="buffer"/>. On
    /// <see cref="Iso8583FrameStatus.Frame"/>, <paramref name="message"/> is the message (without
    /// header) and <paramref name="frameLength"/> the bytes to consume. On
    /// <see cref="Iso8583FrameStatus.Error"/>, <paramref name="error"/> says why.
    /// </summary>
    /// <param name="buffer">Bytes received and not yet consumed.</param>
    /// <param name="message">The message, on success.</param>
    /// <param name="frameLength">Header plus message length, on success; else 0.</param>
    /// <param name="error">The problem with the length header, on error; else null.</param>
    /// <param name="messageBytesMax">The largest message accepted, 12-65535.</param>
    public static Iso8583FrameStatus TryReadFrame(
        ReadOnlySpan<byte> buffer,
        out ReadOnlySpan<byte> message,
        out int frameLength,
        out Iso8583FormatException? error,
        int messageBytesMax = Iso8583Limits.MessageBytesMaxDefault)
    {
        CheckMessageBytesMax(messageBytesMax);
        message = default;
        frameLength = 0;
        error = null;
        if (buffer.Length < Iso8583Limits.FrameHeaderBytes)
        {
            return Iso8583FrameStatus.NeedMoreData;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(buffer);
        error = CheckLength(length, messageBytesMax);
        if (error is not null)
        {
            return Iso8583FrameStatus.Error;
        }

        if (buffer.Length - Iso8583Limits.FrameHeaderBytes < length)
        {
            return Iso8583FrameStatus.NeedMoreData;
        }

        message = buffer.Slice(Iso8583Limits.FrameHeaderBytes, length);
        frameLength = Iso8583Limits.FrameHeaderBytes + length;
        return Iso8583FrameStatus.Frame;
    }

    /// <summary>
    /// Tries to read one frame from the start of <paramref name="buffer"/>, as from a
    /// <c>PipeReader</c>. On <see cref="Iso8583FrameStatus.Frame"/>, <paramref name="buffer"/> is
    /// advanced past the frame and <paramref name="message"/> is the message (without header);
    /// otherwise <paramref name="buffer"/> is left as it was.
    /// </summary>
    /// <param name="buffer">Bytes received and not yet consumed.</param>
    /// <param name="message">The message, on success.</param>
    /// <param name="error">The problem with the length header, on error; else null.</param>
    /// <param name="messageBytesMax">The largest message accepted, 12-65535.</param>
    public static Iso8583FrameStatus TryReadFrame(
        ref ReadOnlySequence<byte> buffer,
        out ReadOnlySequence<byte> message,
        out Iso8583FormatException? error,
        int messageBytesMax = Iso8583Limits.MessageBytesMaxDefault)
    {
        CheckMessageBytesMax(messageBytesMax);
        message = default;
        error = null;
        if (buffer.Length < Iso8583Limits.FrameHeaderBytes)
        {
            return Iso8583FrameStatus.NeedMoreData;
        }

        Span<byte> header = stackalloc byte[Iso8583Limits.FrameHeaderBytes];
        buffer.Slice(0, Iso8583Limits.FrameHeaderBytes).CopyTo(header);
        int length = BinaryPrimitives.ReadUInt16BigEndian(header);
        error = CheckLength(length, messageBytesMax);
        if (error is not null)
        {
            return Iso8583FrameStatus.Error;
        }

        if (buffer.Length - Iso8583Limits.FrameHeaderBytes < length)
        {
            return Iso8583FrameStatus.NeedMoreData;
        }

        message = buffer.Slice(Iso8583Limits.FrameHeaderBytes, length);
        buffer = buffer.Slice(message.End);
        return Iso8583FrameStatus.Frame;
    }

    private static Iso8583FormatException? CheckLength(int length, int messageBytesMax)
    {
        if (length > messageBytesMax)
        {
            return new(Iso8583ErrorLocation.LengthHeader, 0, $"message length {length} exceeds the maximum {messageBytesMax} bytes");
        }

        if (length < Iso8583Limits.MessageBytesMin)
        {
            return new(Iso8583ErrorLocation.LengthHeader, 0, $"message length {length} is below the minimum {Iso8583Limits.MessageBytesMin} bytes (MTI and primary bitmap)");
        }

        return null;
    }

    private static void CheckMessageBytesMax(int messageBytesMax)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(messageBytesMax, Iso8583Limits.MessageBytesMin);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(messageBytesMax, Iso8583Limits.FrameMessageBytesMax);
    }
}
