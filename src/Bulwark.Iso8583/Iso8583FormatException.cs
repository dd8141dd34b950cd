namespace Bulwark.Iso8583;

/// <summary>Which part of a frame or message an <see cref="Iso8583FormatException"/> is about.</summary>
public enum Iso8583ErrorLocation
{
    /// <summary>The message as a whole, e.g. trailing bytes after the last field.</summary>
    Message,

    /// <summary>The 2-byte TCP frame length header.</summary>
    LengthHeader,

    /// <summary>The message type indicator.</summary>
    Mti,

    /// <summary>The primary bitmap.</summary>
    PrimaryBitmap,

    /// <summary>The secondary bitmap.</summary>
    SecondaryBitmap,

    /// <summary>A data element; <see cref="Iso8583FormatException.FieldNumber"/> says which.</summary>
    Field,
}

/// <summary>
/// The codec's one error: a frame, message or field value that does not follow the wire profile.
/// The message reads "&lt;where&gt;: &lt;reason&gt;", e.g. "field 4: non-numeric character 'x' at offset 3".
/// </summary>
public sealed class Iso8583FormatException : FormatException
{
    /// <summary>Creates an error about the message as a whole.</summary>
    public Iso8583FormatException()
        : this(Iso8583ErrorLocation.Message, 0, "malformed ISO 8583 message")
    {
    }

    /// <summary>Creates an error about the message as a whole.</summary>
    public Iso8583FormatException(string reason)
        : this(Iso8583ErrorLocation.Message, 0, reason)
    {
    }

    /// <summary>Creates an error about the message as a whole, caused by another error.</summary>
    public Iso8583FormatException(string reason, Exception innerException)
        : base(Describe(Iso8583ErrorLocation.Message, 0, reason), innerException)
    {
        Location = Iso8583ErrorLocation.Message;
        Reason = reason;
    }

    /// <summary>Creates an error about one part of a message.</summary>
    /// <param name="location">Where the problem is.</param>
    /// <param name="fieldNumber">The data element number when <paramref name="location"/> is a field, else 0.</param>
    /// <param name="reason">What is wrong, without the location prefix.</param>
    public Iso8583FormatException(Iso8583ErrorLocation location, int fieldNumber, string reason)
        : base(Describe(location, fieldNumber, reason))
    {
        Location = location;
        FieldNumber = location == Iso8583ErrorLocation.Field ? fieldNumber : 0;
        Reason = reason;
    }

    private Iso8583FormatException(Iso8583FormatException error, Iso8583Message partialMessage)
        : base(error.Message, error)
    {
        Location = error.Location;
        FieldNumber = error.FieldNumber;
        Reason = error.Reason;
        PartialMessage = partialMessage;
    }

    /// <summary>Which part of the frame or message is wrong.</summary>
    public Iso8583ErrorLocation Location { get; }

    /// <summary>The data element number when <see cref="Location"/> is <see cref="Iso8583ErrorLocation.Field"/>, else 0.</summary>
    public int FieldNumber { get; }

    /// <summary>What is wrong, without the location prefix.</summary>
    public string Reason { get; }

    /// <summary>
    /// When the MTI could be read: a message with that MTI and the fields that were valid before the
    /// bad one, so a request can still be answered with response code 30 (format error) that echoes
    /// its trace fields. Null when the error is in the MTI or came from the builder or framing.
    /// </summary>
    public Iso8583Message? PartialMessage { get; }

    internal Iso8583FormatException WithPartialMessage(Iso8583Message partialMessage) => new(this, partialMessage);

    private static string Describe(Iso8583ErrorLocation location, int fieldNumber, string reason)
    {
        var where = location switch
        {
            Iso8583ErrorLocation.LengthHeader => "length header",
            Iso8583ErrorLocation.Mti => "MTI",
            Iso8583ErrorLocation.PrimaryBitmap => "primary bitmap",
            Iso8583ErrorLocation.SecondaryBitmap => "secondary bitmap",
            Iso8583ErrorLocation.Field => $"field {fieldNumber}",
            _ => "message",
        };
        return $"{where}: {reason}";
    }
}
