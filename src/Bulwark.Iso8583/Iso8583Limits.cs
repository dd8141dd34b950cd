namespace Bulwark.Iso8583;

/// <summary>
/// Every size limit of the codec, kept in one place so a reviewer can see the whole envelope.
/// </summary>
public static class Iso8583Limits
{
    /// <summary>The message type indicator is four ASCII digits.</summary>
    public const int MtiBytes = 4;

    /// <summary>The primary and the secondary bitmap are eight binary bytes each.</summary>
    public const int BitmapBytes = 8;

    /// <summary>The highest data element number a primary plus secondary bitmap can announce.</summary>
    public const int FieldNumberMax = 128;

    /// <summary>The smallest possible message: an MTI and a primary bitmap with no fields.</summary>
    public const int MessageBytesMin = MtiBytes + BitmapBytes;

    /// <summary>
    /// The default largest message a frame reader accepts. Bulwark's largest message is a few
    /// hundred bytes, so anything near this is a broken or hostile peer.
    /// </summary>
    public const int MessageBytesMaxDefault = 4096;

    /// <summary>The largest length a 2-byte big-endian frame header can express.</summary>
    public const int FrameMessageBytesMax = ushort.MaxValue;

    /// <summary>The TCP frame header: the message length as a 2-byte big-endian integer.</summary>
    public const int FrameHeaderBytes = 2;

    /// <summary>The most digits a numeric field may have to be read as a <see cref="long"/>.</summary>
    public const int Int64DigitsMax = 18;
}
