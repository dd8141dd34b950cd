using System.Buffers.Binary;
using Bulwark.Iso8583;

namespace Bulwark.Cards.Tests;

/// <summary>The link over a real TCP connection: sign-on, echo, pipelining and every malformed input.</summary>
public sealed class LinkTests : IAsyncLifetime
{
    private CardsBank _bank = null!;

    public async Task InitializeAsync() => _bank = await CardsBank.StartAsync(options => new CardsOptions
    {
        JournalPath = options.JournalPath,
        SettlementLedgerAccountId = options.SettlementLedgerAccountId,
        DeadlineBudget = options.DeadlineBudget,
        InFlightPerConnectionMax = 2,
    });

    public async Task DisposeAsync() => await _bank.DisposeAsync();

    [Fact]
    public async Task SignOnAndEcho_Answered0810WithApproved()
    {
        await using var scheme = await _bank.ConnectAsync();
        var signOn = new Iso8583MessageBuilder(MessageTypeIndicator.NetworkManagementRequest)
            .Set(Iso8583Fields.TransmissionDateTime, "1122143015")
            .Set(Iso8583Fields.SystemsTraceAuditNumber, 1)
            .Set(Iso8583Fields.NetworkManagementCode, Iso8583NetworkManagementCodes.SignOn);
        var signedOn = await scheme.RoundTripAsync(signOn);
        Assert.Equal(MessageTypeIndicator.NetworkManagementResponse, signedOn.Mti);
        Assert.Equal("00", signedOn.GetResponseCode());
        Assert.Equal("001", signedOn.GetNetworkManagementCode());

        var echo = await scheme.RoundTripAsync(Messages.Echo(2));
        Assert.Equal("00", echo.GetResponseCode());
        Assert.Equal("301", echo.GetNetworkManagementCode());
        Assert.Equal(2, echo.GetSystemsTraceAuditNumber());
    }

    [Fact]
    public async Task Pipelined_ManyRequestsBeforeReading_EveryOneAnsweredOnceAndMatchedBySTAN()
    {
        // The processor allows 2 in flight per connection here: the rest wait in TCP, not in a queue.
        await using var scheme = await _bank.ConnectAsync();
        var stans = Enumerable.Range(0, 20).Select(_ => Messages.NextStan()).ToList();
        foreach (var stan in stans)
        {
            await scheme.SendAsync(Messages.Authorisation(_bank.Pan, 10, stan, _bank.Expiry));
        }
        var answered = new List<int>();
        for (var i = 0; i < stans.Count; i++)
        {
            var response = await scheme.ReceiveAsync();
            Assert.Equal(MessageTypeIndicator.AuthorizationResponse, response.Mti);
            Assert.Equal("00", response.GetResponseCode());
            answered.Add(response.GetSystemsTraceAuditNumber());
        }
        Assert.Equal(stans.Order(), answered.Order());
        var account = await _bank.CustomerAccountAsync();
        Assert.Equal(200, account.DebitsPending);
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task TruncatedFrame_ConnectionEndsInsideFrame_CountedAndLinkStillServes()
    {
        await using (var scheme = await _bank.ConnectAsync())
        {
            var frame = SchemeClient.FrameOf(Messages.Authorisation(_bank.Pan, 100, Messages.NextStan(), _bank.Expiry));
            await scheme.SendRawAsync(frame[..(frame.Length / 2)]);
        }
        await using var next = await _bank.ConnectAsync();
        Assert.Equal("00", (await next.RoundTripAsync(Messages.Echo(3))).GetResponseCode());
    }

    [Fact]
    public async Task LengthHeaderAboveLimit_ConnectionClosedAndNewConnectionServed()
    {
        await using (var scheme = await _bank.ConnectAsync())
        {
            await scheme.SendRawAsync([0xFF, 0xFF, 0x30, 0x31, 0x30, 0x30]);
            Assert.True(await scheme.IsClosedByServerAsync());
        }
        await using var next = await _bank.ConnectAsync();
        Assert.Equal("00", (await next.RoundTripAsync(Messages.Echo(4))).GetResponseCode());
    }

    [Fact]
    public async Task BitmapAnnouncesMissingField_AnsweredWithFormatErrorAndLinkStaysUp()
    {
        await using var scheme = await _bank.ConnectAsync();
        var stan = Messages.NextStan();
        var frame = SchemeClient.FrameOf(Messages.Authorisation(_bank.Pan, 100, stan, _bank.Expiry));
        // Cut field 49 (the last three bytes) but keep its bit in the bitmap.
        var cut = frame[..^3];
        BinaryPrimitives.WriteUInt16BigEndian(cut, (ushort)(cut.Length - 2));
        await scheme.SendRawAsync(cut);
        var response = await scheme.ReceiveAsync();
        Assert.Equal(MessageTypeIndicator.AuthorizationResponse, response.Mti);
        Assert.Equal("30", response.GetResponseCode());
        Assert.Equal(stan, response.GetSystemsTraceAuditNumber());
        Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Echo(5))).GetResponseCode());
        Assert.Equal(0, (await _bank.CustomerAccountAsync()).DebitsPending);
    }

    [Fact]
    public async Task NonNumericAmount_AnsweredWithFormatError()
    {
        await using var scheme = await _bank.ConnectAsync();
        var frame = SchemeClient.FrameOf(Messages.Authorisation(_bank.Pan, 100, Messages.NextStan(), _bank.Expiry));
        // Frame header 2 + MTI 4 + bitmap 8 + PAN (2 + 16) + processing code 6 = the amount's first byte.
        frame[2 + 4 + 8 + 2 + 16 + 6 + 3] = (byte)'x';
        await scheme.SendRawAsync(frame);
        var response = await scheme.ReceiveAsync();
        Assert.Equal(MessageTypeIndicator.AuthorizationResponse, response.Mti);
        Assert.Equal("30", response.GetResponseCode());
        Assert.False(response.Has(Iso8583Fields.AuthorizationIdResponse));
    }

    [Fact]
    public async Task VariableLengthAboveMaximum_AnsweredWithFormatError()
    {
        await using var scheme = await _bank.ConnectAsync();
        var frame = SchemeClient.FrameOf(Messages.Authorisation(_bank.Pan, 100, Messages.NextStan(), _bank.Expiry));
        frame[2 + 4 + 8] = (byte)'2';
        frame[2 + 4 + 8 + 1] = (byte)'5';
        await scheme.SendRawAsync(frame);
        var response = await scheme.ReceiveAsync();
        Assert.Equal(MessageTypeIndicator.AuthorizationResponse, response.Mti);
        Assert.Equal("30", response.GetResponseCode());
    }

    [Fact]
    public async Task UnknownMti_NotAnswerableSoDroppedAndLinkStaysUp()
    {
        await using var scheme = await _bank.ConnectAsync();
        var frame = SchemeClient.FrameOf(Messages.Authorisation(_bank.Pan, 100, Messages.NextStan(), _bank.Expiry));
        frame[2 + 1] = (byte)'2';
        await scheme.SendRawAsync(frame);
        // The next answer on this connection is the echo's: the 0200 got none.
        var echo = await scheme.RoundTripAsync(Messages.Echo(6));
        Assert.Equal(MessageTypeIndicator.NetworkManagementResponse, echo.Mti);
        Assert.Equal(6, echo.GetSystemsTraceAuditNumber());
    }

    [Fact]
    public async Task SeveralConnections_EachServed()
    {
        await using var first = await _bank.ConnectAsync();
        await using var second = await _bank.ConnectAsync();
        Assert.Equal("00", (await first.RoundTripAsync(Messages.Echo(7))).GetResponseCode());
        Assert.Equal("00", (await second.RoundTripAsync(Messages.Echo(8))).GetResponseCode());
    }
}
