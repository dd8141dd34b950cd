namespace Bulwark.Iso8583;

/// <summary>
/// A message type indicator (MTI): version, class, function and origin digits, e.g. 0100. Only the
/// MTIs Bulwark exchanges can be created or parsed; any other is a format error naming it.
/// </summary>
public readonly record struct MessageTypeIndicator
{
    /// <summary>0100: authorisation request.</summary>
    public static readonly MessageTypeIndicator AuthorizationRequest = new(100);
    /// <summary>0110: authorisation request response.</summary>
    public static readonly MessageTypeIndicator AuthorizationResponse = new(110);
    /// <summary>0120: authorisation advice (the scheme decided in stand-in).</summary>
    public static readonly MessageTypeIndicator AuthorizationAdvice = new(120);
    /// <summary>0130: authorisation advice response.</summary>
    public static readonly MessageTypeIndicator AuthorizationAdviceResponse = new(130);
    /// <summary>0400: reversal request.</summary>
    public static readonly MessageTypeIndicator ReversalRequest = new(400);
    /// <summary>0410: reversal request response.</summary>
    public static readonly MessageTypeIndicator ReversalResponse = new(410);
    /// <summary>0420: reversal advice.</summary>
    public static readonly MessageTypeIndicator ReversalAdvice = new(420);
    /// <summary>0430: reversal advice response.</summary>
    public static readonly MessageTypeIndicator ReversalAdviceResponse = new(430);
    /// <summary>0800: network management request (sign-on, sign-off, echo).</summary>
    public static readonly MessageTypeIndicator NetworkManagementRequest = new(800);
    /// <summary>0810: network management request response.</summary>
    public static readonly MessageTypeIndicator NetworkManagementResponse = new(810);

    private MessageTypeIndicator(int value)
    {
        Value = value;
    }

    /// <summary>Every MTI the codec knows, requests before their responses.</summary>
    public static IReadOnlyList<MessageTypeIndicator> Known { get; } =
    [
        AuthorizationRequest, AuthorizationResponse, AuthorizationAdvice, AuthorizationAdviceResponse,
        ReversalRequest, ReversalResponse, ReversalAdvice, ReversalAdviceResponse,
        NetworkManagementRequest, NetworkManagementResponse,
    ];

    /// <summary>The four digits as a number, e.g. 100 for 0100.</summary>
    public int Value { get; }

    /// <summary>Digit 1: the ISO 8583 version (0 = 1987).</summary>
    public int Version => Value / 1000;

    /// <summary>Digit 2: the message class (1 authorisation, 4 reversal, 8 network management).</summary>
    public int Class => Value / 100 % 10;

    /// <summary>Digit 3: the function (0 request, 1 request response, 2 advice, 3 advice response).</summary>
    public int Function => Value / 10 % 10;

    /// <summary>Digit 4: the origin (0 acquirer).</summary>
    public int Origin => Value % 10;

    /// <summary>Whether this is a request or an advice, i.e. something that expects a response.</summary>
    public bool IsRequest => Value != 0 && Function is 0 or 2;

    /// <summary>Whether this is an advice (function 2 or 3).</summary>
    public bool IsAdvice => Function is 2 or 3;

    /// <summary>The response to this request or advice: 0100 -> 0110, 0420 -> 0430, and so on.</summary>
    /// <exception cref="Iso8583FormatException">This MTI is itself a response.</exception>
    public MessageTypeIndicator ToResponse()
    {
        if (!IsRequest)
        {
            ThrowHelper.ThrowAt(Iso8583ErrorLocation.Mti, $"{this} is a response and has no response of its own");
        }

        return new MessageTypeIndicator(Value + 10);
    }

    /// <summary>Reads four ASCII digits and checks the MTI is known.</summary>
    /// <exception cref="Iso8583FormatException">Too short, not digits, or not a known MTI.</exception>
    public static MessageTypeIndicator Parse(ReadOnlySpan<byte> ascii)
    {
        if (ascii.Length < Iso8583Limits.MtiBytes)
        {
            ThrowHelper.ThrowAt(Iso8583ErrorLocation.Mti, $"truncated: needs {Iso8583Limits.MtiBytes} bytes, {ascii.Length} remain");
        }

        var value = 0;
        for (var index = 0; index < Iso8583Limits.MtiBytes; index++)
        {
            var digit = ascii[index] - '0';
            if ((uint)digit > 9)
            {
                ThrowHelper.ThrowAt(Iso8583ErrorLocation.Mti, $"non-numeric character {ThrowHelper.DescribeByte(ascii[index])} at offset {index}");
            }

            value = (value * 10) + digit;
        }

        return FromValue(value);
    }

    /// <summary>Parses "0100" and the like.</summary>
    /// <exception cref="Iso8583FormatException">Not four digits, or not a known MTI.</exception>
    public static MessageTypeIndicator Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length != Iso8583Limits.MtiBytes)
        {
            ThrowHelper.ThrowAt(Iso8583ErrorLocation.Mti, $"'{text}' is not 4 digits");
        }

        Span<byte> ascii = stackalloc byte[Iso8583Limits.MtiBytes];
        for (var index = 0; index < ascii.Length; index++)
        {
            ascii[index] = text[index] < 0x80 ? (byte)text[index] : (byte)'?';
        }

        return Parse(ascii);
    }

    /// <summary>Writes the four ASCII digits.</summary>
    public void WriteTo(Span<byte> destination)
    {
        var value = Value;
        for (var index = Iso8583Limits.MtiBytes - 1; index >= 0; index--)
        {
            destination[index] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }

    /// <summary>The four digits, e.g. "0100".</summary>
    public override string ToString() => Value.ToString("D4", System.Globalization.CultureInfo.InvariantCulture);

    private static MessageTypeIndicator FromValue(int value)
    {
        switch (value)
        {
            case 100 or 110 or 120 or 130 or 400 or 410 or 420 or 430 or 800 or 810:
                return new MessageTypeIndicator(value);
            default:
                ThrowHelper.ThrowAt(Iso8583ErrorLocation.Mti, $"unknown message type {value:D4}");
                return default;
        }
    }
}
