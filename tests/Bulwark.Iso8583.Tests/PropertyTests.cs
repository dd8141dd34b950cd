using System.Buffers;
using FsCheck.Xunit;

namespace Bulwark.Iso8583.Tests;

public sealed class PropertyTests
{
    [Property(MaxTest = 2_000, Arbitrary = new[] { typeof(Iso8583Arbitraries) })]
    public void BuildParse_RandomValidMessage_RoundTrips(MessageModel model)
    {
        var bytes = model.ToBuilder().ToArray();

        var message = Iso8583Message.Parse(bytes);

        Assert.Equal(model.Mti, message.Mti);
        Assert.Equal(model.Fields.Select(field => field.Number), RoundTripTests.Numbers(message));
        foreach (var field in model.Fields)
        {
            Assert.Equal(field.Expected, message.GetString(field.Number));
        }

        Assert.Equal(bytes, RoundTripTests.Rebuild(message));
    }

    [Property(MaxTest = 300, Arbitrary = new[] { typeof(Iso8583Arbitraries) })]
    public void TryReadFrame_RandomMessagesInRandomPieces_ReadsEachMessageOnce(MessageModel[] models, byte pieceLength)
    {
        var writer = new ArrayBufferWriter<byte>();
        foreach (var model in models)
        {
            model.ToBuilder().WriteFrameTo(writer);
        }

        var buffer = Segments.Split(writer.WrittenSpan.ToArray(), Math.Max(1, (int)pieceLength));
        var read = new List<Iso8583Message>();
        // Random messages with several private (LLLVAR) fields outgrow the 4,096-byte default limit.
        while (Iso8583Framing.TryReadFrame(ref buffer, out var frame, out var error, Iso8583Limits.FrameMessageBytesMax) == Iso8583FrameStatus.Frame)
        {
            Assert.Null(error);
            read.Add(Iso8583Message.Parse(frame));
        }

        Assert.True(buffer.IsEmpty);
        Assert.Equal(models.Length, read.Count);
        for (var index = 0; index < models.Length; index++)
        {
            Assert.Equal(models[index].ToBuilder().ToArray(), read[index].Bytes.ToArray());
        }
    }
}
