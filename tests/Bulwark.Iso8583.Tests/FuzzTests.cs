using FsCheck.Xunit;

namespace Bulwark.Iso8583.Tests;

/// <summary>
/// Whatever arrives on the link, the codec either parses it or throws
/// <see cref="Iso8583FormatException"/>: never another exception. Fixed seeds keep runs repeatable.
/// Every input is bounded (a few hundred bytes) and the parser makes one forward pass over it, so
/// each case is bounded work; a hang would show as this test never finishing.
/// </summary>
public sealed class FuzzTests
{
    [Property(MaxTest = 50_000, Replay = "(9278362510,4561)", Arbitrary = new[] { typeof(Iso8583Arbitraries) })]
    public void ReadAndParse_MutatedValidFrame_ParsesOrThrowsFormatException(FuzzCase fuzz)
    {
        Exercise(fuzz.ToFrame());
    }

    [Property(MaxTest = 20_000, Replay = "(7135004219,8803)", Arbitrary = new[] { typeof(Iso8583Arbitraries) })]
    public void ReadAndParse_RandomBytes_ParsesOrThrowsFormatException(byte[] bytes)
    {
        Exercise(bytes);
    }

    private static void Exercise(byte[] bytes)
    {
        var status = Iso8583Framing.TryReadFrame(bytes, out var message, out var frameLength, out var error);
        Assert.Equal(status == Iso8583FrameStatus.Error, error is not null);
        if (status == Iso8583FrameStatus.Frame)
        {
            Assert.InRange(frameLength, Iso8583Limits.FrameHeaderBytes + Iso8583Limits.MessageBytesMin, bytes.Length);
            ParseOrFormatError(message.ToArray());
        }

        ParseOrFormatError(bytes);
        if (bytes.Length > Iso8583Limits.FrameHeaderBytes)
        {
            ParseOrFormatError(bytes[Iso8583Limits.FrameHeaderBytes..]);
        }
    }

    private static void ParseOrFormatError(byte[] bytes)
    {
        Iso8583Message message;
        try
        {
            message = Iso8583Message.Parse(bytes);
        }
        catch (Iso8583FormatException error)
        {
            Assert.False(string.IsNullOrEmpty(error.Reason));
            if (error.PartialMessage is { } partial)
            {
                Assert.Equal(partial.Mti, MessageTypeIndicator.Parse(bytes));
                Touch(partial);
            }

            return;
        }

        Touch(message);
        Assert.Equal(bytes, RoundTripTests.Rebuild(message));
    }

    private static void Touch(Iso8583Message message)
    {
        // Every field of a parsed or partial message must be readable through every accessor.
        foreach (var number in message.Fields)
        {
            Assert.NotNull(message.GetString(number));
            var spec = Iso8583Fields.Get(number);
            if (spec.Format == Iso8583FieldFormat.Numeric && spec.MaxLength <= Iso8583Limits.Int64DigitsMax)
            {
                Assert.True(message.GetInt64(number) >= 0);
            }
        }

        Assert.NotNull(message.ToString());
    }
}
