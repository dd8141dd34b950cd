using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Bulwark.Iso8583;

namespace Bulwark.Cards.Tests;

/// <summary>A minimal acquirer side of the link, built on the codec: sends frames, reads frames.</summary>
public sealed class SchemeClient : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(20);
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private SchemeClient(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<SchemeClient> ConnectAsync(IPEndPoint endpoint)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(endpoint);
        return new SchemeClient(client);
    }

    /// <summary>Connects and signs on (0800, field 70 = 001), as a scheme does before anything else.</summary>
    public static async Task<SchemeClient> ConnectSignedOnAsync(IPEndPoint endpoint)
    {
        var client = await ConnectAsync(endpoint);
        var signOn = new Iso8583MessageBuilder(MessageTypeIndicator.NetworkManagementRequest)
            .Set(Iso8583Fields.TransmissionDateTime, "1122143015")
            .Set(Iso8583Fields.SystemsTraceAuditNumber, 999_999)
            .Set(Iso8583Fields.NetworkManagementCode, Iso8583NetworkManagementCodes.SignOn);
        var signedOn = await client.RoundTripAsync(signOn);
        if (signedOn.GetResponseCode() != Iso8583ResponseCodes.Approved)
        {
            await client.DisposeAsync();
            throw new InvalidOperationException($"Sign-on answered {signedOn.GetResponseCode()}.");
        }
        return client;
    }

    public async Task SendAsync(Iso8583MessageBuilder message) => await SendRawAsync(FrameOf(message));

    public async Task SendRawAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    public static byte[] FrameOf(Iso8583MessageBuilder message)
    {
        var body = message.ToArray();
        var frame = new byte[body.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)body.Length);
        body.CopyTo(frame, 2);
        return frame;
    }

    /// <summary>Reads the next frame; throws when none arrives in time or the link closed.</summary>
    public async Task<Iso8583Message> ReceiveAsync()
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        var header = new byte[2];
        await _stream.ReadExactlyAsync(header, timeout.Token);
        var body = new byte[BinaryPrimitives.ReadUInt16BigEndian(header)];
        await _stream.ReadExactlyAsync(body, timeout.Token);
        return Iso8583Message.Parse(body);
    }

    /// <summary>True when the server closed the connection (read returns 0) within the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        var buffer = new byte[1];
        try
        {
            return await _stream.ReadAsync(buffer, timeout.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public async Task<Iso8583Message> RoundTripAsync(Iso8583MessageBuilder message)
    {
        await SendAsync(message);
        return await ReceiveAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
    }
}
