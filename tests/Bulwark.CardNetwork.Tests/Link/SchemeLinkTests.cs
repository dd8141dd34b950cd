using System.Globalization;
using Bulwark.CardNetwork.Link;
using Bulwark.Iso8583;
using static Bulwark.CardNetwork.Tests.TestSupport;

namespace Bulwark.CardNetwork.Tests.Link;

public sealed class SchemeLinkTests
{
    [Fact]
    public async Task Start_SignsOnWithNetworkManagement001()
    {
        await using var issuer = new FakeIssuer();
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));

        Assert.True(link.IsSignedOn);
        var signOn = Assert.Single(issuer.ReceivedOf(MessageTypeIndicator.NetworkManagementRequest));
        Assert.Equal(Iso8583NetworkManagementCodes.SignOn, signOn.GetNetworkManagementCode());
        Assert.True(signOn.Has(Iso8583Fields.SystemsTraceAuditNumber));
        Assert.Equal(1, link.GetStatistics().SignOns);
    }

    [Fact]
    public async Task SignOn_RefusedByIssuer_RetriesUntilAccepted()
    {
        var refusals = 0;
        await using var issuer = new FakeIssuer(request =>
            request.Mti == MessageTypeIndicator.NetworkManagementRequest && Interlocked.Increment(ref refusals) <= 2
                ? IssuerReply.Answer(FakeIssuer.Respond(request, Iso8583ResponseCodes.IssuerUnavailable))
                : FakeIssuer.DefaultReply(request));
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));

        var statistics = link.GetStatistics();
        Assert.Equal(2, statistics.SignOnFailures);
        Assert.Equal(1, statistics.SignOns);
        Assert.Equal(3, issuer.ConnectionsAccepted);
    }

    [Fact]
    public async Task Echo_SentOnTimer_AndAnswered()
    {
        await using var issuer = new FakeIssuer();
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer) with { EchoInterval = TimeSpan.FromMilliseconds(50) });

        Assert.True(await EventuallyAsync(() => issuer.ReceivedOf(MessageTypeIndicator.NetworkManagementRequest)
            .Count(m => m.GetNetworkManagementCode() == Iso8583NetworkManagementCodes.EchoTest) >= 3));
        Assert.True(await EventuallyAsync(() => link.GetStatistics().EchoesSent >= 3));
        Assert.Equal(0, link.GetStatistics().EchoMisses);
        Assert.Equal(1, issuer.ConnectionsAccepted);
    }

    [Fact]
    public async Task Echo_UnansweredTwice_Reconnects()
    {
        var echoes = 0;
        await using var issuer = new FakeIssuer(request =>
            request.Has(Iso8583Fields.NetworkManagementCode) && request.GetNetworkManagementCode() == Iso8583NetworkManagementCodes.EchoTest && Interlocked.Increment(ref echoes) <= 2
                ? IssuerReply.Silence
                : FakeIssuer.DefaultReply(request));
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer, TimeSpan.FromMilliseconds(100)) with { EchoInterval = TimeSpan.FromMilliseconds(50) });

        Assert.True(await EventuallyAsync(() => link.GetStatistics().SignOns >= 2));
        Assert.Equal(2, link.GetStatistics().EchoMisses);
        Assert.True(issuer.ConnectionsAccepted >= 2);
    }

    [Fact]
    public async Task SendAsync_ManyInFlight_AnswersOutOfOrderMatchedByStanAndRrn()
    {
        const int count = 40;
        await using var issuer = new FakeIssuer(request =>
        {
            if (request.Mti != MessageTypeIndicator.AuthorizationRequest)
            {
                return FakeIssuer.DefaultReply(request);
            }

            // Later requests are answered sooner; the code says which request it answers.
            var index = int.Parse(request.GetRetrievalReferenceNumber(), CultureInfo.InvariantCulture);
            var code = index % 2 == 0 ? Iso8583ResponseCodes.Approved : Iso8583ResponseCodes.InsufficientFunds;
            return IssuerReply.Answer(FakeIssuer.Respond(request, code), TimeSpan.FromMilliseconds((count - index) * 10));
        });
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));

        var requests = Enumerable.Range(0, count).Select(index =>
        {
            var builder = Authorization(link, index.ToString("D12", CultureInfo.InvariantCulture), 100 + index);
            var stan = int.Parse(builder.GetField(Iso8583Fields.SystemsTraceAuditNumber), CultureInfo.InvariantCulture);
            return (Index: index, Stan: stan, Answer: link.SendAsync(builder));
        }).ToList();
        Assert.True(await EventuallyAsync(() => link.InFlight > 0 || requests.All(r => r.Answer.IsCompleted)));
        await Task.WhenAll(requests.Select(r => r.Answer));

        foreach (var (index, stan, answer) in requests)
        {
            var response = await answer;
            Assert.Equal(LinkOutcome.Answered, response.Outcome);
            Assert.Equal(MessageTypeIndicator.AuthorizationResponse, response.Message!.Mti);
            Assert.Equal(stan, response.Message.GetSystemsTraceAuditNumber());
            Assert.Equal(index.ToString("D12", CultureInfo.InvariantCulture), response.Message.GetRetrievalReferenceNumber());
            Assert.Equal(100 + index, response.Message.GetAmount());
            Assert.Equal(index % 2 == 0 ? "00" : "51", response.Message.GetResponseCode());
        }

        Assert.Equal(count, link.GetStatistics().ResponsesMatched - 1);
        Assert.Equal(0, link.InFlight);
    }

    [Fact]
    public async Task SendAsync_SameStanDifferentRrn_AreDifferentRequests()
    {
        await using var issuer = new FakeIssuer();
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));
        var first = Authorization(link, "000000000001");
        var second = Authorization(link, "000000000002").Set(Iso8583Fields.SystemsTraceAuditNumber, first.GetField(Iso8583Fields.SystemsTraceAuditNumber));

        var answers = await Task.WhenAll(link.SendAsync(first), link.SendAsync(second));

        Assert.Equal("000000000001", answers[0].Message!.GetRetrievalReferenceNumber());
        Assert.Equal("000000000002", answers[1].Message!.GetRetrievalReferenceNumber());
    }

    [Fact]
    public async Task SendAsync_IssuerSilent_TimesOutAndLateAnswerIsCounted()
    {
        Iso8583Message? held = null;
        await using var issuer = new FakeIssuer(request =>
        {
            if (request.Mti != MessageTypeIndicator.AuthorizationRequest)
            {
                return FakeIssuer.DefaultReply(request);
            }

            held = request;
            return IssuerReply.Silence;
        });
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer, TimeSpan.FromMilliseconds(150)));

        var response = await link.SendAsync(Authorization(link, "000000000007")).WaitAsync(WaitMax);
        Assert.Equal(LinkOutcome.TimedOut, response.Outcome);
        Assert.Equal(1, link.GetStatistics().TimedOut);

        await issuer.SendAsync(FakeIssuer.Respond(held!, Iso8583ResponseCodes.Approved));
        Assert.True(await EventuallyAsync(() => link.GetStatistics().LateResponses == 1));
        Assert.True(link.IsSignedOn);
        Assert.Equal(0, link.InFlight);
    }

    [Fact]
    public async Task Receive_AnswerWithUnknownStan_CountedAndLinkStaysUp()
    {
        await using var issuer = new FakeIssuer();
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));
        var stray = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationResponse)
            .Set(Iso8583Fields.SystemsTraceAuditNumber, 424_242)
            .Set(Iso8583Fields.RetrievalReferenceNumber, "999999999999")
            .Set(Iso8583Fields.ResponseCode, "00");

        await issuer.SendAsync(stray);

        Assert.True(await EventuallyAsync(() => link.GetStatistics().UnknownResponses == 1));
        var response = await link.SendAsync(Authorization(link, "000000000008")).WaitAsync(WaitMax);
        Assert.Equal(LinkOutcome.Answered, response.Outcome);
        Assert.Equal(1, issuer.ConnectionsAccepted);
    }

    [Fact]
    public async Task Receive_AnswerWithWrongMti_CountedAndRequestTimesOut()
    {
        await using var issuer = new FakeIssuer(request =>
            request.Mti == MessageTypeIndicator.AuthorizationRequest
                ? IssuerReply.Answer(new Iso8583MessageBuilder(MessageTypeIndicator.ReversalResponse)
                    .CopyFrom(request, Iso8583Fields.SystemsTraceAuditNumber)
                    .CopyFrom(request, Iso8583Fields.RetrievalReferenceNumber)
                    .Set(Iso8583Fields.ResponseCode, "00"))
                : FakeIssuer.DefaultReply(request));
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer, TimeSpan.FromMilliseconds(300)));

        var response = await link.SendAsync(Authorization(link, "000000000009")).WaitAsync(WaitMax);

        Assert.Equal(LinkOutcome.TimedOut, response.Outcome);
        Assert.Equal(1, link.GetStatistics().WrongMtiResponses);
        Assert.True(link.IsSignedOn);
    }

    [Fact]
    public async Task Receive_WellFramedGarbage_CountedAndLinkStaysUp()
    {
        await using var issuer = new FakeIssuer();
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));
        byte[] unknownMti = [0, 12, .. "0200"u8, 0, 0, 0, 0, 0, 0, 0, 0];
        byte[] notDigits = [0, 14, .. "ABCD"u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        byte[] bitmapWithoutFields = [0, 12, .. "0110"u8, 0x20, 0, 0, 0, 0, 0, 0, 0];
        byte[] responseWithoutStan = [.. Frame(new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationResponse).Set(Iso8583Fields.ResponseCode, "00"))];

        await issuer.SendRawAsync([.. unknownMti, .. notDigits, .. bitmapWithoutFields, .. responseWithoutStan]);

        Assert.True(await EventuallyAsync(() => link.GetStatistics().MalformedMessages == 4));
        var response = await link.SendAsync(Authorization(link, "000000000010")).WaitAsync(WaitMax);
        Assert.Equal(LinkOutcome.Answered, response.Outcome);
        Assert.Equal(1, issuer.ConnectionsAccepted);
        Assert.Equal(0, link.GetStatistics().FramingErrors);
    }

    [Theory]
    [InlineData(0xFF, 0xFF)]
    [InlineData(0x00, 0x03)]
    public async Task Receive_BrokenLengthHeader_ReconnectsAndSignsOnAgain(byte high, byte low)
    {
        await using var issuer = new FakeIssuer();
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));

        await issuer.SendRawAsync([high, low, .. "0810"u8]);

        Assert.True(await EventuallyAsync(() => link.GetStatistics().SignOns == 2));
        Assert.Equal(1, link.GetStatistics().FramingErrors);
        Assert.Equal(2, issuer.ConnectionsAccepted);
        await link.WaitForSignOnAsync().WaitAsync(WaitMax);
        var response = await link.SendAsync(Authorization(link, "000000000011")).WaitAsync(WaitMax);
        Assert.Equal(LinkOutcome.Answered, response.Outcome);
    }

    [Fact]
    public async Task IssuerDropsConnection_InFlightLost_ThenReconnects()
    {
        await using var issuer = new FakeIssuer(request =>
            request.Mti == MessageTypeIndicator.AuthorizationRequest ? IssuerReply.Disconnect : FakeIssuer.DefaultReply(request));
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));

        var response = await link.SendAsync(Authorization(link, "000000000012")).WaitAsync(WaitMax);

        Assert.Equal(LinkOutcome.ConnectionLost, response.Outcome);
        Assert.True(await EventuallyAsync(() => link.GetStatistics().SignOns == 2));
        Assert.True(link.GetStatistics().Disconnects >= 1);
        Assert.Equal(2, issuer.ConnectionsAccepted);
    }

    [Fact]
    public async Task SendAsync_NotSignedOn_ReturnsAtOnceWithoutSending()
    {
        await using var issuer = new FakeIssuer();
        await using var link = new SchemeLink(LinkOptions(issuer));

        var response = await link.SendAsync(Authorization(link, "000000000013"));

        Assert.Equal(LinkOutcome.NotSignedOn, response.Outcome);
        Assert.False(response.WasSent);
    }

    [Fact]
    public async Task SendAsync_InFlightLimitReached_Overloaded()
    {
        await using var issuer = new FakeIssuer(request =>
            request.Mti == MessageTypeIndicator.AuthorizationRequest ? IssuerReply.Silence : FakeIssuer.DefaultReply(request));
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer, TimeSpan.FromSeconds(2)) with { InFlightMax = 2 });

        var first = link.SendAsync(Authorization(link, "000000000014"));
        var second = link.SendAsync(Authorization(link, "000000000015"));
        var third = await link.SendAsync(Authorization(link, "000000000016"));

        Assert.Equal(LinkOutcome.Overloaded, third.Outcome);
        Assert.Equal(1, link.GetStatistics().OverloadRejections);
        Assert.Equal(LinkOutcome.TimedOut, (await first.WaitAsync(WaitMax)).Outcome);
        Assert.Equal(LinkOutcome.TimedOut, (await second.WaitAsync(WaitMax)).Outcome);
    }

    [Fact]
    public async Task Receive_IssuerEcho_AnsweredWith0810()
    {
        await using var issuer = new FakeIssuer();
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));
        var echo = new Iso8583MessageBuilder(MessageTypeIndicator.NetworkManagementRequest)
            .Set(Iso8583Fields.SystemsTraceAuditNumber, 77)
            .Set(Iso8583Fields.NetworkManagementCode, Iso8583NetworkManagementCodes.EchoTest);

        await issuer.SendAsync(echo);

        Assert.True(await EventuallyAsync(() => link.GetStatistics().IssuerNetworkRequestsAnswered == 1));
    }

    [Fact]
    public async Task Receive_UnexpectedRequestFromIssuer_CountedAndDropped()
    {
        await using var issuer = new FakeIssuer();
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));

        await issuer.SendAsync(Authorization(link, "000000000017"));

        Assert.True(await EventuallyAsync(() => link.GetStatistics().UnexpectedRequests == 1));
        Assert.True(link.IsSignedOn);
    }

    [Fact]
    public async Task SendAsync_ResponseOrMissingRrn_Rejected()
    {
        await using var issuer = new FakeIssuer();
        await using var link = await SignedOnLinkAsync(LinkOptions(issuer));

        Assert.Throws<ArgumentException>(() => { _ = link.SendAsync(new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationResponse).Set(Iso8583Fields.SystemsTraceAuditNumber, 1)); });
        Assert.Throws<ArgumentException>(() => { _ = link.SendAsync(new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest).Set(Iso8583Fields.SystemsTraceAuditNumber, 1)); });
        Assert.Throws<ArgumentException>(() => { _ = link.SendAsync(new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest).Set(Iso8583Fields.RetrievalReferenceNumber, "1")); });
    }

    [Fact]
    public void Options_Invalid_Rejected()
    {
        var valid = new SchemeLinkOptions { IssuerEndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 1) };
        Assert.Throws<ArgumentException>(() => new SchemeLink(valid with { ResponseDeadline = TimeSpan.Zero }));
        Assert.Throws<ArgumentException>(() => new SchemeLink(valid with { InFlightMax = 0 }));
        Assert.Throws<ArgumentException>(() => new SchemeLink(valid with { ReconnectDelayMax = TimeSpan.FromMilliseconds(1) }));
        Assert.Throws<ArgumentException>(() => new SchemeLink(valid with { AcquiringInstitutionId = "12a" }));
    }

    private static byte[] Frame(Iso8583MessageBuilder builder)
    {
        var frame = new byte[Iso8583Limits.FrameHeaderBytes + builder.GetEncodedLength()];
        builder.WriteFrameTo(frame);
        return frame;
    }
}
