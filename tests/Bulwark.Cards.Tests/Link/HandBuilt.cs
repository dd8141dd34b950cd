using System.Buffers.Binary;
using System.Text;

namespace Bulwark.Cards.Tests.Link;

/// <summary>
/// Frames written out by hand — MTI, bitmap bytes as literals, field text — without Bulwark's
/// builder, so the link is tested against bytes another ISO 8583 implementation would send.
/// </summary>
internal static class HandBuilt
{
    /// <summary>Bitmap of 0100: fields 2 3 4 7 / 11 12 13 14 / 18 22 / 32 / 37 / 41 42 43 / 49 (docs/reference/iso8583.md).</summary>
    public static readonly byte[] AuthorisationBitmap = [0x72, 0x3c, 0x44, 0x01, 0x08, 0xe0, 0x80, 0x00];

    /// <summary>The same with bit 1 set and a secondary bitmap of zeros after it, as some acquirer stacks send.</summary>
    public static readonly byte[] AuthorisationBitmapWithEmptySecondary =
        [0xf2, 0x3c, 0x44, 0x01, 0x08, 0xe0, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];

    /// <summary>The 0100 bitmap plus field 48 (additional data, private), which Bulwark does not use.</summary>
    public static readonly byte[] AuthorisationBitmapWithField48 = [0x72, 0x3c, 0x44, 0x01, 0x08, 0xe1, 0x80, 0x00];

    /// <summary>Bitmaps of 0800: fields 1 (secondary present), 7, 11; secondary: field 70.</summary>
    public static readonly byte[] NetworkManagementBitmaps =
        [0x82, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];

    public static byte[] SignOn(int stan) => NetworkManagement(stan, "001");

    public static byte[] Echo(int stan) => NetworkManagement(stan, "301");

    public static byte[] SignOff(int stan) => NetworkManagement(stan, "002");

    public static byte[] NetworkManagement(int stan, string code) =>
        Frame("0800", NetworkManagementBitmaps, "1122143015", stan.ToString("D6", System.Globalization.CultureInfo.InvariantCulture), code);

    /// <summary>An 0100 that also carries field 48, as "012" + <paramref name="privateData"/> between fields 43 and 49.</summary>
    public static byte[] AuthorisationWithField48(string pan, long amount, int stan, string expiry, string privateData)
    {
        var plain = Authorisation(pan, amount, stan, expiry);
        var field48 = System.Text.Encoding.ASCII.GetBytes(privateData.Length.ToString("D3", System.Globalization.CultureInfo.InvariantCulture) + privateData);
        // Field 49 (3 bytes) ends the plain frame; field 48 goes just before it.
        byte[] body = [.. plain[2..^3], .. field48, .. plain[^3..]];
        AuthorisationBitmapWithField48.CopyTo(body, 4);
        var frame = new byte[body.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)body.Length);
        body.CopyTo(frame, 2);
        return frame;
    }

    public static byte[] Authorisation(string pan, long amount, int stan, string expiry, byte[]? bitmaps = null) =>
        Frame("0100", bitmaps ?? AuthorisationBitmap,
            pan.Length.ToString("D2", System.Globalization.CultureInfo.InvariantCulture) + pan,
            "000000",
            amount.ToString("D12", System.Globalization.CultureInfo.InvariantCulture),
            "1122143015",
            stan.ToString("D6", System.Globalization.CultureInfo.InvariantCulture),
            "153015",
            "1122",
            expiry,
            "5812",
            "071",
            "06" + Messages.Acquirer,
            Messages.Rrn(stan),
            "TERM0001",
            "MERCHANT0000001",
            "Dishoom London GB".PadRight(40),
            "826");

    /// <summary>The 2-byte big-endian length, the MTI, the bitmaps as given, then each field's ASCII bytes.</summary>
    public static byte[] Frame(string mti, byte[] bitmaps, params string[] fields)
    {
        var body = new List<byte>(Encoding.ASCII.GetBytes(mti));
        body.AddRange(bitmaps);
        foreach (var field in fields)
        {
            body.AddRange(Encoding.ASCII.GetBytes(field));
        }
        var frame = new byte[body.Count + 2];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)body.Count);
        body.CopyTo(frame, 2);
        return frame;
    }
}
