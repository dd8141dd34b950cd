using System.Buffers;

namespace Bulwark.Iso8583.Tests;

public sealed class Iso8583FramingTests
{
    private static readonly byte[] Message = TestMessages.Raw("0800", TestMessages.Bit(11), null, "000001");

    [Fact]
    public void TryReadFrame_CompleteFrame_ReturnsMessageAndLength()
    {
        var frame = new byte[Message.Length + 2];
        Iso8583Framing.WriteFrame(frame, Message);

        var status = Iso8583Framing.TryReadFrame(frame, out var message, out var frameLength, out var error);

        Assert.Equal(Iso8583FrameStatus.Frame, status);
        Assert.Equal(Message, message.ToArray());
        Assert.Equal(frame.Length, frameLength);
        Assert.Null(error);
    }

    [Fact]
    public void TryReadFrame_TruncatedFrame_NeedsMoreDataAndConsumesNothing()
    {
        var frame = new byte[Message.Length + 2];
        Iso8583Framing.WriteFrame(frame, Message);
        var sequence = new ReadOnlySequence<byte>(frame, 0, frame.Length - 1);

        for (var length = 0; length < frame.Length; length++)
        {
            Assert.Equal(Iso8583FrameStatus.NeedMoreData, Iso8583Framing.TryReadFrame(frame.AsSpan(0, length), out _, out var frameLength, out _));
            Assert.Equal(0, frameLength);
        }

        Assert.Equal(Iso8583FrameStatus.NeedMoreData, Iso8583Framing.TryReadFrame(ref sequence, out _, out _));
        Assert.Equal(frame.Length - 1, sequence.Length);
    }

    [Fact]
    public void TryReadFrame_LengthHeaderAboveLimit_IsErrorNamingLengthHeader()
    {
        byte[] header = [0x10, 0x01]; // 4097, one more than the default maximum.
        var sequence = new ReadOnlySequence<byte>(header);

        var status = Iso8583Framing.TryReadFrame(header, out _, out _, out var error);
        var sequenceStatus = Iso8583Framing.TryReadFrame(ref sequence, out _, out var sequenceError);

        Assert.Equal(Iso8583FrameStatus.Error, status);
        Assert.Equal(Iso8583ErrorLocation.LengthHeader, error!.Location);
        Assert.Equal("length header: message length 4097 exceeds the maximum 4096 bytes", error.Message);
        Assert.Equal(Iso8583FrameStatus.Error, sequenceStatus);
        Assert.Equal(error.Message, sequenceError!.Message);
        Assert.Equal(2, sequence.Length);
    }

    [Fact]
    public void TryReadFrame_ConfiguredLimit_IsApplied()
    {
        var frame = new byte[Message.Length + 2];
        Iso8583Framing.WriteFrame(frame, Message);

        var status = Iso8583Framing.TryReadFrame(frame, out _, out _, out var error, messageBytesMax: Message.Length - 1);

        Assert.Equal(Iso8583FrameStatus.Error, status);
        Assert.Equal($"length header: message length {Message.Length} exceeds the maximum {Message.Length - 1} bytes", error!.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(11)]
    public void TryReadFrame_LengthBelowMinimum_IsError(int length)
    {
        byte[] header = [0, (byte)length];

        var status = Iso8583Framing.TryReadFrame(header, out _, out _, out var error);

        Assert.Equal(Iso8583FrameStatus.Error, status);
        Assert.Equal($"length header: message length {length} is below the minimum 12 bytes (MTI and primary bitmap)", error!.Message);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(65536)]
    public void TryReadFrame_ImpossibleConfiguredLimit_ThrowsArgumentOutOfRange(int messageBytesMax)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Iso8583Framing.TryReadFrame(ReadOnlySpan<byte>.Empty, out _, out _, out _, messageBytesMax));
    }

    [Fact]
    public void TryReadFrame_SequenceSplitAcrossSegments_ReadsEveryFrameAndAdvances()
    {
        var writer = new ArrayBufferWriter<byte>();
        var second = TestMessages.Raw("0810", TestMessages.Bit(11) | TestMessages.Bit(39), null, "000001" + "00");
        Iso8583Framing.WriteFrame(writer, Message);
        Iso8583Framing.WriteFrame(writer, second);
        var buffer = Segments.Split(writer.WrittenSpan.ToArray(), 1);

        Assert.Equal(Iso8583FrameStatus.Frame, Iso8583Framing.TryReadFrame(ref buffer, out var first, out _));
        Assert.Equal(Message, first.ToArray());
        Assert.Equal(Iso8583FrameStatus.Frame, Iso8583Framing.TryReadFrame(ref buffer, out var next, out _));
        Assert.Equal(second, next.ToArray());
        Assert.Equal(Iso8583FrameStatus.NeedMoreData, Iso8583Framing.TryReadFrame(ref buffer, out _, out _));
        Assert.True(buffer.IsEmpty);
        Assert.Equal("0810", Iso8583Message.Parse(next).Mti.ToString());
    }

    [Fact]
    public void WriteFrame_MessageTooLongForHeader_ThrowsArgumentOutOfRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Iso8583Framing.WriteFrame(new byte[70_000], new byte[65_536]));
    }
}

/// <summary>Builds multi-segment sequences, as a socket delivers bytes in arbitrary pieces.</summary>
internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Split(byte[] bytes, int segmentLength)
    {
        if (bytes.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segments(bytes.AsMemory(0, Math.Min(segmentLength, bytes.Length)), 0);
        var last = first;
        for (var offset = segmentLength; offset < bytes.Length; offset += segmentLength)
        {
            var next = new Segments(bytes.AsMemory(offset, Math.Min(segmentLength, bytes.Length - offset)), offset);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
