using FsCheck;
using FsCheck.Fluent;

namespace Bulwark.Iso8583.Tests;

/// <summary>A message as the test means it: an MTI and field values as handed to the builder.</summary>
public sealed record MessageModel(MessageTypeIndicator Mti, IReadOnlyList<FieldValue> Fields)
{
    public Iso8583MessageBuilder ToBuilder()
    {
        var builder = new Iso8583MessageBuilder(Mti);
        foreach (var field in Fields)
        {
            builder.Set(field.Number, field.Value);
        }

        return builder;
    }

    public override string ToString() => $"{Mti} {string.Join(' ', Fields)}";
}

/// <summary>One field value before padding.</summary>
public sealed record FieldValue(int Number, string Value)
{
    /// <summary>The value as it must come back from the wire: fixed fields padded.</summary>
    public string Expected
    {
        get
        {
            var spec = Iso8583Fields.Get(Number);
            if (spec.IsVariable)
            {
                return Value;
            }

            return spec.Format == Iso8583FieldFormat.Numeric ? Value.PadLeft(spec.MaxLength, '0') : Value.PadRight(spec.MaxLength, ' ');
        }
    }

    public override string ToString() => $"{Number}='{Value}'";
}

/// <summary>One change to a valid frame, applied at a position taken modulo the frame length.</summary>
public sealed record Mutation(int Kind, int Position, byte Value)
{
    public const int KindCount = 6;

    public List<byte> Apply(List<byte> bytes)
    {
        if (bytes.Count == 0)
        {
            bytes.Add(Value);
            return bytes;
        }

        var at = Position % bytes.Count;
        switch (Kind)
        {
            case 0:
                bytes[at] = Value;
                break;
            case 1:
                bytes[at] ^= (byte)(1 << (Value % 8));
                break;
            case 2:
                bytes.Insert(at, Value);
                break;
            case 3:
                bytes.RemoveAt(at);
                break;
            case 4:
                bytes.RemoveRange(at, bytes.Count - at);
                break;
            default:
                // Digits are where most of the codec's decisions are, so aim a digit at them.
                bytes[at] = (byte)('0' + (Value % 10));
                break;
        }

        return bytes;
    }
}

/// <summary>
/// A valid message and the mutations to break it with: applied to the whole frame (header
/// included), or to the message before it is framed so that the broken message reaches the parser.
/// </summary>
public sealed record FuzzCase(MessageModel Message, IReadOnlyList<Mutation> Mutations, bool MutateHeader)
{
    public byte[] ToFrame()
    {
        var message = new List<byte>(Message.ToBuilder().ToArray());
        if (!MutateHeader)
        {
            message = Apply(message);
        }

        var frame = new byte[Iso8583Limits.FrameHeaderBytes + message.Count];
        Iso8583Framing.WriteFrame(frame, message.ToArray());
        return MutateHeader ? [.. Apply([.. frame])] : frame;
    }

    public override string ToString() => $"{Message} mutations{(MutateHeader ? " with header" : "")}: {string.Join(", ", Mutations)}";

    private List<byte> Apply(List<byte> bytes)
    {
        foreach (var mutation in Mutations)
        {
            bytes = mutation.Apply(bytes);
        }

        return bytes;
    }
}

public static class Generators
{
    private const string AlphanumericCharacters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ";

    // Declared first: static initialisers run in order and the generators below use these.
    private static Gen<string> MonthDay { get; } =
        from month in Gen.Choose(1, 12)
        from day in Gen.Choose(1, month == 2 ? 29 : DateTime.DaysInMonth(2001, month))
        select $"{month:D2}{day:D2}";

    private static Gen<string> Time { get; } =
        from hour in Gen.Choose(0, 23)
        from minute in Gen.Choose(0, 59)
        from second in Gen.Choose(0, 59)
        select $"{hour:D2}{minute:D2}{second:D2}";

    private static Gen<Mutation> OneMutation { get; } =
        from kind in Gen.Choose(0, Mutation.KindCount - 1)
        from position in Gen.Choose(0, 10_000)
        from value in Gen.Choose(0, 255)
        select new Mutation(kind, position, (byte)value);

    public static Gen<MessageModel> Message { get; } =
        from mti in Gen.Elements(MessageTypeIndicator.Known.ToArray())
        from specs in Gen.SubListOf(Iso8583Fields.Specs.ToArray())
        from fields in Gen.CollectToList(specs, spec => Value(spec).Select(value => new FieldValue(spec.Number, value)))
        select new MessageModel(mti, fields);

    public static Gen<FuzzCase> Fuzz { get; } =
        from message in Message
        from count in Gen.Choose(1, 8)
        from mutations in Gen.ArrayOf(OneMutation, count)
        from mutateHeader in Gen.Elements(true, false)
        select new FuzzCase(message, mutations, mutateHeader);

    /// <summary>Random bytes, often behind a real MTI and bitmap so they reach the field parser.</summary>
    public static Gen<byte[]> RandomBytes { get; } = Gen.Frequency(
        (1, Bytes(0, 64)),
        (2, from mti in Gen.Elements(MessageTypeIndicator.Known.ToArray())
            from rest in Bytes(0, 200)
            select (byte[])[.. System.Text.Encoding.ASCII.GetBytes(mti.ToString()), .. rest]),
        (2, from mti in Gen.Elements(MessageTypeIndicator.Known.ToArray())
            from bitmap in Bytes(8, 16)
            from digits in Gen.Choose(0, 200).SelectMany(length => Gen.ArrayOf(Gen.Choose('0', '9').Select(digit => (byte)digit), length))
            select (byte[])[.. System.Text.Encoding.ASCII.GetBytes(mti.ToString()), .. bitmap, .. digits]));

    private static Gen<byte[]> Bytes(int lengthMin, int lengthMax) =>
        Gen.Choose(lengthMin, lengthMax).SelectMany(length => Gen.ArrayOf(Gen.Choose(0, 255).Select(value => (byte)value), length));

    private static Gen<string> Value(Iso8583FieldSpec spec) => spec.Content switch
    {
        Iso8583FieldContent.MonthDayTime => from date in MonthDay from time in Time select date + time,
        Iso8583FieldContent.Time => Time,
        Iso8583FieldContent.MonthDay => MonthDay,
        Iso8583FieldContent.YearMonth => from year in Gen.Choose(0, 99) from month in Gen.Choose(1, 12) select $"{year:D2}{month:D2}",
        _ => Text(spec),
    };

    private static Gen<string> Text(Iso8583FieldSpec spec)
    {
        var characters = spec.Format switch
        {
            Iso8583FieldFormat.Numeric => Gen.Choose('0', '9').Select(value => (char)value),
            Iso8583FieldFormat.Alphanumeric => Gen.Elements(AlphanumericCharacters.ToCharArray()),
            _ => Gen.Choose(0x20, 0x7E).Select(value => (char)value),
        };

        // Fixed fields may be given short (the builder pads them); variable ones need at least one character.
        var lengthMin = spec.IsVariable ? 1 : 0;
        return Gen.Choose(lengthMin, spec.MaxLength).SelectMany(length => Gen.ArrayOf(characters, length)).Select(chars => new string(chars));
    }
}

/// <summary>Registers the generators with FsCheck.Xunit's <c>[Property(Arbitrary = ...)]</c>.</summary>
public static class Iso8583Arbitraries
{
    public static Arbitrary<MessageModel> MessageModel() => Generators.Message.ToArbitrary();

    public static Arbitrary<FuzzCase> FuzzCase() => Generators.Fuzz.ToArbitrary();

    public static Arbitrary<byte[]> Bytes() => Generators.RandomBytes.ToArbitrary();
}
