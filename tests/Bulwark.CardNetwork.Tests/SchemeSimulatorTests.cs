using System.Net;
using Bulwark.CardNetwork.Traffic;
using Bulwark.Iso8583;
using static Bulwark.CardNetwork.Tests.TestSupport;

namespace Bulwark.CardNetwork.Tests;

public sealed class SchemeSimulatorTests
{
    // Every advice is acknowledged after a few attempts, so a short deadline only speeds the test up.
    private static readonly TimeSpan ShortDeadline = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task RunAsync_AnsweringIssuer_SendsScheduleWithRealisticFields()
    {
        await using var issuer = new FakeIssuer();
        var options = SimulatorOptions(issuer);
        var progress = new List<SchemeProgress>();

        var result = await new SchemeSimulator(options with { ProgressInterval = TimeSpan.FromMilliseconds(100) }).RunAsync(progress.Add);

        Assert.Equal(50, result.Scheduled);
        Assert.Equal(50, result.Sent);
        Assert.Equal(50, result.Approved);
        Assert.Equal(50, result.ResponseCodes["00"]);
        Assert.Equal(50, result.Latency.Count);
        Assert.NotEmpty(progress);
        var authorizations = issuer.ReceivedOf(MessageTypeIndicator.AuthorizationRequest);
        Assert.Equal(50, authorizations.Count);
        Assert.Equal(50, authorizations.Select(m => m.GetRetrievalReferenceNumber()).Distinct().Count());
        foreach (var message in authorizations)
        {
            Assert.Contains(options.Cards, card => card.PrimaryAccountNumber == message.GetPrimaryAccountNumber());
            Assert.Equal("826", message.GetCurrencyCode());
            Assert.InRange(message.GetAmount(), 1, 250_000);
            Assert.Contains(message.GetString(Iso8583Fields.PosEntryMode), new[] { PosEntryModes.Contactless, PosEntryModes.ChipAndPin, PosEntryModes.Ecommerce });
            Assert.Equal(40, message.GetString(Iso8583Fields.CardAcceptorNameLocation).Length);
            foreach (var field in new[] { 3, 7, 12, 13, 14, 18, 32, 41, 42 })
            {
                Assert.True(message.Has(field), $"field {field}");
            }
        }
    }

    [Fact]
    public async Task RunAsync_SlowIssuer_OpenLoopKeepsTheSchedule()
    {
        var delay = TimeSpan.FromMilliseconds(400);
        var received = 0;
        var receivedBeforeFirstAnswer = -1;
        var firstAnswerAt = DateTime.MaxValue;
        await using var issuer = new FakeIssuer(request =>
        {
            if (request.Mti != MessageTypeIndicator.AuthorizationRequest)
            {
                return FakeIssuer.DefaultReply(request);
            }

            var count = Interlocked.Increment(ref received);
            if (count == 1)
            {
                firstAnswerAt = DateTime.UtcNow + delay;
            }
            else if (DateTime.UtcNow >= firstAnswerAt && receivedBeforeFirstAnswer < 0)
            {
                receivedBeforeFirstAnswer = count - 1;
            }

            return IssuerReply.Answer(FakeIssuer.Respond(request, "00"), delay);
        });
        var options = SimulatorOptions(issuer) with { RatePerSecond = 200, Duration = TimeSpan.FromSeconds(1), ResponseDeadline = TimeSpan.FromSeconds(3) };

        var result = await new SchemeSimulator(options).RunAsync();

        // A closed loop would have sent one and waited; open loop sent on schedule meanwhile.
        Assert.Equal(200, result.Scheduled);
        Assert.Equal(200, result.Sent);
        Assert.Equal(200, issuer.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Count);
        Assert.True(receivedBeforeFirstAnswer > 20, $"only {receivedBeforeFirstAnswer} sent while the first waited");
        Assert.Equal(200, result.Approved);
        Assert.True(result.Latency.P50Milliseconds >= delay.TotalMilliseconds * 0.9);
    }

    [Fact]
    public async Task RunAsync_IssuerSilent_StandInApprovesWithinLimit_AdviceRetriedUntilAcknowledged()
    {
        var adviceAttempts = 0;
        await using var issuer = new FakeIssuer(request => request.Mti.Value switch
        {
            100 => IssuerReply.Silence,
            120 => Interlocked.Increment(ref adviceAttempts) % 3 == 0 ? IssuerReply.Answer(FakeIssuer.Respond(request, "00")) : IssuerReply.Silence,
            _ => FakeIssuer.DefaultReply(request),
        });
        var options = SimulatorOptions(issuer) with { StandInLimitMinor = 1_000_000, Duration = TimeSpan.FromSeconds(0.1), ResponseDeadline = ShortDeadline };

        var simulator = new SchemeSimulator(options);
        var result = await simulator.RunAsync();

        Assert.Equal(10, result.Scheduled);
        Assert.Equal(10, result.TimedOut);
        Assert.Equal(10, result.StandInApproved);
        Assert.Equal(0, result.StandInDeclined);
        Assert.Equal(10, result.Advices.Queued);
        Assert.Equal(10, result.Advices.Acknowledged);
        Assert.True(result.Advices.Attempts >= 20, $"{result.Advices.Attempts} attempts");
        Assert.Equal(0, result.Reversals.Queued);
        var authorizations = issuer.ReceivedOf(MessageTypeIndicator.AuthorizationRequest);
        var advices = issuer.ReceivedOf(MessageTypeIndicator.AuthorizationAdvice);
        foreach (var advice in advices)
        {
            // The advice names the authorisation it decided: same STAN, RRN, card and amount.
            var original = Assert.Single(authorizations, m => m.GetRetrievalReferenceNumber() == advice.GetRetrievalReferenceNumber());
            Assert.Equal(original.GetSystemsTraceAuditNumber(), advice.GetSystemsTraceAuditNumber());
            Assert.Equal(original.GetAmount(), advice.GetAmount());
            Assert.Equal(original.GetPrimaryAccountNumber(), advice.GetPrimaryAccountNumber());
            Assert.Equal("00", advice.GetResponseCode());
            Assert.StartsWith("S", advice.GetString(Iso8583Fields.AuthorizationIdResponse), StringComparison.Ordinal);
        }

        Assert.Equal(10, advices.Select(a => a.GetRetrievalReferenceNumber()).Distinct().Count());
        Assert.Equal(10, simulator.Approvals.Count);
        Assert.All(simulator.Approvals, approval => Assert.True(approval.StandIn));
    }

    [Fact]
    public async Task RunAsync_IssuerSilent_StandInDeclinesAboveLimit_AdvisesAndReverses()
    {
        await using var issuer = new FakeIssuer(request => request.Mti == MessageTypeIndicator.AuthorizationRequest ? IssuerReply.Silence : FakeIssuer.DefaultReply(request));
        var options = SimulatorOptions(issuer) with { StandInLimitMinor = 0, Duration = TimeSpan.FromSeconds(0.1), ResponseDeadline = ShortDeadline };

        var simulator = new SchemeSimulator(options);
        var result = await simulator.RunAsync();

        Assert.Equal(10, result.StandInDeclined);
        Assert.Equal(0, result.StandInApproved);
        Assert.Equal(10, result.Advices.Acknowledged);
        Assert.Equal(10, result.Reversals.Acknowledged);
        Assert.Empty(simulator.Approvals);
        var authorizations = issuer.ReceivedOf(MessageTypeIndicator.AuthorizationRequest);
        Assert.All(issuer.ReceivedOf(MessageTypeIndicator.AuthorizationAdvice), advice =>
        {
            Assert.Equal("05", advice.GetResponseCode());
            Assert.False(advice.Has(Iso8583Fields.AuthorizationIdResponse));
        });
        Assert.All(issuer.ReceivedOf(MessageTypeIndicator.ReversalRequest), reversal =>
        {
            var original = Assert.Single(authorizations, m => m.GetRetrievalReferenceNumber() == reversal.GetRetrievalReferenceNumber());
            var elements = reversal.GetOriginalDataElements();
            Assert.Equal(MessageTypeIndicator.AuthorizationRequest, elements.Mti);
            Assert.Equal(original.GetSystemsTraceAuditNumber(), elements.SystemsTraceAuditNumber);
            Assert.Equal(original.GetString(Iso8583Fields.TransmissionDateTime), elements.TransmissionDateTime);
            Assert.NotEqual(original.GetSystemsTraceAuditNumber(), reversal.GetSystemsTraceAuditNumber());
            Assert.Equal(original.GetAmount(), reversal.GetAmount());
        });
    }

    [Fact]
    public async Task RunAsync_IssuerSilent_ExpiredCardDeclinedInStandInWith54()
    {
        await using var issuer = new FakeIssuer(request => request.Mti == MessageTypeIndicator.AuthorizationRequest ? IssuerReply.Silence : FakeIssuer.DefaultReply(request));
        var expired = Cards(3).Select(card => card with { ExpiryYear = DateTime.UtcNow.Year - 1 }).ToList();
        var options = SimulatorOptions(issuer) with { Cards = expired, StandInLimitMinor = 1_000_000, Duration = TimeSpan.FromSeconds(0.05), ResponseDeadline = ShortDeadline };

        var result = await new SchemeSimulator(options).RunAsync();

        Assert.Equal(5, result.StandInDeclined);
        Assert.All(issuer.ReceivedOf(MessageTypeIndicator.AuthorizationAdvice), advice => Assert.Equal(Iso8583ResponseCodes.ExpiredCard, advice.GetResponseCode()));
        Assert.Equal(5, result.Reversals.Acknowledged);
    }

    [Fact]
    public async Task RunAsync_StandInDisabled_DeclinesAndReversesTimeouts()
    {
        await using var issuer = new FakeIssuer(request => request.Mti == MessageTypeIndicator.AuthorizationRequest ? IssuerReply.Silence : FakeIssuer.DefaultReply(request));
        var options = SimulatorOptions(issuer) with { StandInEnabled = false, Duration = TimeSpan.FromSeconds(0.1), ResponseDeadline = ShortDeadline };

        var result = await new SchemeSimulator(options).RunAsync();

        Assert.Equal(10, result.IssuerUnavailableDeclined);
        Assert.Equal(0, result.StandInApproved + result.StandInDeclined);
        Assert.Equal(0, result.Advices.Queued);
        Assert.Equal(10, result.Reversals.Acknowledged);
    }

    [Fact]
    public async Task RunAsync_ReversalShare_ReversesThatShareOfApprovals()
    {
        await using var issuer = new FakeIssuer();
        var options = SimulatorOptions(issuer) with { ReversalShare = 1.0 };

        var simulator = new SchemeSimulator(options);
        var result = await simulator.RunAsync();

        Assert.Equal(50, result.Approved);
        Assert.Equal(50, result.Reversals.Acknowledged);
        Assert.Empty(simulator.Approvals);
        var reversed = issuer.ReceivedOf(MessageTypeIndicator.ReversalRequest).Select(m => m.GetRetrievalReferenceNumber()).Order();
        var authorised = issuer.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Select(m => m.GetRetrievalReferenceNumber()).Order();
        Assert.Equal(authorised, reversed);
    }

    [Fact]
    public async Task RunAsync_ReversalShareTenth_ReversesAboutATenth()
    {
        await using var issuer = new FakeIssuer();
        var options = SimulatorOptions(issuer) with { ReversalShare = 0.1, RatePerSecond = 1_000 };

        var simulator = new SchemeSimulator(options);
        var result = await simulator.RunAsync();

        Assert.Equal(500, result.Approved);
        Assert.InRange(result.Reversals.Acknowledged, 25, 75);
        Assert.Equal(500 - result.Reversals.Queued, simulator.Approvals.Count);
    }

    [Fact]
    public async Task RunAsync_IssuerDeclines_CountedByResponseCode()
    {
        await using var issuer = new FakeIssuer(request => request.Mti == MessageTypeIndicator.AuthorizationRequest
            ? IssuerReply.Answer(FakeIssuer.Respond(request, request.GetAmount() % 2 == 0 ? "51" : "05"))
            : FakeIssuer.DefaultReply(request));

        var simulator = new SchemeSimulator(SimulatorOptions(issuer));
        var result = await simulator.RunAsync();

        Assert.Equal(50, result.Declined);
        Assert.Equal(50, result.ResponseCodes["51"] + result.ResponseCodes["05"]);
        Assert.Empty(simulator.Approvals);
    }

    [Fact]
    public async Task RunAsync_AdviceSurvivesReconnect()
    {
        var advices = 0;
        await using var issuer = new FakeIssuer(request => request.Mti.Value switch
        {
            100 => IssuerReply.Silence,
            120 => Interlocked.Increment(ref advices) == 1 ? IssuerReply.Disconnect : FakeIssuer.DefaultReply(request),
            _ => FakeIssuer.DefaultReply(request),
        });
        var options = SimulatorOptions(issuer) with { StandInLimitMinor = 1_000_000, Duration = TimeSpan.FromSeconds(0.05), ResponseDeadline = ShortDeadline };

        var result = await new SchemeSimulator(options).RunAsync();

        Assert.Equal(5, result.StandInApproved);
        Assert.Equal(5, result.Advices.Acknowledged);
        Assert.True(result.Link.SignOns >= 2);
        Assert.True(issuer.ConnectionsAccepted >= 2);
    }

    [Fact]
    public async Task RunAsync_NobodyListening_FailsWithSignOnTimeout()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var options = new SchemeSimulatorOptions
        {
            IssuerEndPoint = new IPEndPoint(IPAddress.Loopback, port),
            Cards = Cards(1),
            SignOnTimeout = TimeSpan.FromMilliseconds(300),
            ReconnectDelayMin = TimeSpan.FromMilliseconds(20),
            ReconnectDelayMax = TimeSpan.FromMilliseconds(50),
        };

        var error = await Assert.ThrowsAsync<TimeoutException>(() => new SchemeSimulator(options).RunAsync());
        Assert.Contains("did not sign on", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_Cancelled_StopsScheduleAndReturnsResult()
    {
        await using var issuer = new FakeIssuer();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var result = await new SchemeSimulator(SimulatorOptions(issuer) with { Duration = null }).RunAsync(cancellationToken: cancel.Token);

        Assert.True(result.Scheduled > 0);
        Assert.Equal(result.Scheduled, result.Approved);
    }

    [Fact]
    public void Options_Invalid_Rejected()
    {
        var valid = new SchemeSimulatorOptions { IssuerEndPoint = new IPEndPoint(IPAddress.Loopback, 1), Cards = Cards(1) };
        Assert.Throws<ArgumentException>(() => new SchemeSimulator(valid with { Cards = [] }));
        Assert.Throws<ArgumentException>(() => new SchemeSimulator(valid with { RatePerSecond = 0 }));
        Assert.Throws<ArgumentException>(() => new SchemeSimulator(valid with { ReversalShare = 1.5 }));
        Assert.Throws<ArgumentException>(() => new SchemeSimulator(valid with { Cards = [new SchemeCard("12ab", 2030, 1)] }));
        Assert.Throws<ArgumentException>(() => new SchemeSimulator(valid with { Cards = [new SchemeCard("4111111111111111", 2030, 13)] }));
        Assert.Throws<ArgumentException>(() => new SchemeSimulator(valid with { Duration = TimeSpan.Zero }));
    }

    [Fact]
    public void MerchantPopulation_SameSeed_SameMerchantsWithValidFields()
    {
        var first = MerchantPopulation.Create(100, 7);
        var second = MerchantPopulation.Create(100, 7);

        Assert.Equal(first.Merchants, second.Merchants);
        Assert.All(first.Merchants, merchant =>
        {
            Assert.Equal(40, merchant.NameLocation.Length);
            Assert.Equal(8, merchant.TerminalId.Length);
            Assert.Equal(15, merchant.CardAcceptorId.Length);
            Assert.Equal(4, merchant.CategoryCode.Length);
        });
        Assert.Equal(100, first.Merchants.Select(m => m.TerminalId).Distinct().Count());
    }

    [Fact]
    public void DrawAmount_LogNormalAroundMedian()
    {
        var merchant = MerchantPopulation.Create(1, 1).Merchants[0];
        var random = new Random(3);

        var amounts = Enumerable.Range(0, 10_000).Select(_ => MerchantPopulation.DrawAmount(merchant, random)).Order().ToArray();

        var median = amounts[amounts.Length / 2];
        Assert.InRange(median, merchant.MedianAmountMinor * 0.9, merchant.MedianAmountMinor * 1.1);
        Assert.True(amounts[^1] > merchant.MedianAmountMinor * 3, "a long tail of larger payments");
        Assert.All(amounts, amount => Assert.InRange(amount, 1, 250_000));
    }
}
