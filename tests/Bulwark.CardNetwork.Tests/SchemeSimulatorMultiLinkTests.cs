using System.Net;
using Bulwark.CardNetwork.Link;
using Bulwark.Iso8583;
using static Bulwark.CardNetwork.Tests.TestSupport;

namespace Bulwark.CardNetwork.Tests;

/// <summary>The scheme connected to several instances of the issuer's card link.</summary>
public sealed class SchemeSimulatorMultiLinkTests : IDisposable
{
    private static readonly TimeSpan RunMax = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("bulwark-scheme-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task RunAsync_TwoLinksUp_EachCardAlwaysGoesToOneLink_CountedPerLink()
    {
        await using var a = new FakeIssuer();
        await using var b = new FakeIssuer();
        var options = TwoLinks(a, b) with { RatePerSecond = 200, Duration = TimeSpan.FromSeconds(1) };

        var result = await new SchemeSimulator(options).RunAsync().WaitAsync(RunMax);

        Assert.Equal(200, result.Approved);
        var pansA = AuthorizedPans(a);
        var pansB = AuthorizedPans(b);
        Assert.NotEmpty(pansA);
        Assert.NotEmpty(pansB);
        Assert.Empty(pansA.Intersect(pansB));
        Assert.Equal(2, result.Links.Count);
        Assert.All(result.Links, link =>
        {
            Assert.Equal(1, link.Ups);
            Assert.Equal(0, link.Downs);
            Assert.True(link.Answered > 0 && link.Sent >= link.Answered);
        });
        Assert.Equal(result.Links.Sum(link => link.Sent), result.Link.MessagesSent);
    }

    [Fact]
    public async Task RunAsync_StandInOnEitherLink_AdviceGoesToTheLinkThatSawTheAuthorisation()
    {
        static IssuerReply Silent0100(Iso8583Message request) => request.Mti == MessageTypeIndicator.AuthorizationRequest ? IssuerReply.Silence : FakeIssuer.DefaultReply(request);
        await using var a = new FakeIssuer(Silent0100);
        await using var b = new FakeIssuer(Silent0100);
        var options = TwoLinks(a, b) with { Duration = TimeSpan.FromSeconds(0.3), ResponseDeadline = TimeSpan.FromMilliseconds(300), StandInLimitMinor = 1_000_000 };

        var result = await new SchemeSimulator(options).RunAsync().WaitAsync(RunMax);

        Assert.Equal(30, result.StandInApproved);
        Assert.Equal(30, result.Advices.Acknowledged);
        foreach (var issuer in new[] { a, b })
        {
            var rrns = issuer.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Select(m => m.GetRetrievalReferenceNumber()).ToHashSet();
            Assert.All(issuer.ReceivedOf(MessageTypeIndicator.AuthorizationAdvice), advice => Assert.Contains(advice.GetRetrievalReferenceNumber(), rrns));
        }
    }

    [Fact]
    public async Task RunAsync_LinkKilledMidRun_ItsCardsMoveToTheOther_AndComeBackWhenItReturns()
    {
        await using var a = new FakeIssuer();
        var b = new FakeIssuer();
        var portB = b.EndPoint.Port;
        var nameB = IssuerLinkAddresses.Format(b.EndPoint);
        SchemeProgress? latest = null;
        using var stop = new CancellationTokenSource(RunMax);
        var options = TwoLinks(a, b) with { Duration = null, ProgressInterval = TimeSpan.FromMilliseconds(50) };
        var run = new SchemeSimulator(options).RunAsync(progress => Volatile.Write(ref latest, progress), stop.Token);

        Assert.True(await EventuallyAsync(() => AuthorizedPans(b).Count >= 5));
        var pansA = AuthorizedPans(a);
        var pansB = AuthorizedPans(b);
        await b.DisposeAsync();   // connection reset, then refused

        Assert.True(await EventuallyAsync(() => AuthorizedPans(a).Overlaps(pansB)), "B's cards never reached A");
        Assert.True(await EventuallyAsync(() => Volatile.Read(ref latest)?.Links.Single(link => link.Name == nameB) is { IsUp: false, Statistics.ConnectFailures: > 0 }), "B was never refused");
        await using var restarted = new FakeIssuer(port: portB);
        Assert.True(await EventuallyAsync(() => AuthorizedPans(restarted).Count >= 5), "nothing reached B after it came back");
        await stop.CancelAsync();
        var result = await run.WaitAsync(RunMax);

        // Back up, B decides its own cards again: none of those A had from the start.
        Assert.Empty(AuthorizedPans(restarted).Intersect(pansA));
        var linkB = Assert.Single(result.Links, link => link.Name == nameB);
        Assert.True(linkB.Ups >= 2, $"B came up {linkB.Ups} times");
        Assert.True(linkB.Downs >= 1, $"B went down {linkB.Downs} times");
        Assert.True(linkB.Statistics.ConnectFailures >= 1);
        Assert.Equal(result.Scheduled, result.Approved + result.Declined + result.StandInApproved + result.StandInDeclined);
        Assert.Equal(result.Advices.Queued, result.Advices.Acknowledged);
    }

    [Fact]
    public async Task RunAsync_LinkHangsMidRun_TakenDownAfterTimeoutsInARow_CardsMove_ThenReturn()
    {
        var hung = 0;
        await using var a = new FakeIssuer();
        await using var b = new FakeIssuer(request => Volatile.Read(ref hung) == 1 ? IssuerReply.Silence : FakeIssuer.DefaultReply(request));
        using var stop = new CancellationTokenSource(RunMax);
        var options = TwoLinks(a, b) with
        {
            Duration = null,
            ResponseDeadline = TimeSpan.FromMilliseconds(300),
            LinkTimeoutsInARowMax = 3,
            StandInLimitMinor = 1_000_000,
        };
        var run = new SchemeSimulator(options).RunAsync(cancellationToken: stop.Token);

        Assert.True(await EventuallyAsync(() => AuthorizedPans(b).Count >= 5));
        var pansB = AuthorizedPans(b);
        Volatile.Write(ref hung, 1);   // accepts, reads, never answers: not even sign-on

        Assert.True(await EventuallyAsync(() => AuthorizedPans(a).Overlaps(pansB)), "B's cards never reached A");
        var answeredByB = b.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Count;
        Volatile.Write(ref hung, 0);
        Assert.True(await EventuallyAsync(() => b.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Count >= answeredByB + 5), "nothing reached B after it answered again");
        await stop.CancelAsync();
        var result = await run.WaitAsync(RunMax);

        var linkB = Assert.Single(result.Links, link => link.Name == IssuerLinkAddresses.Format(b.EndPoint));
        Assert.True(linkB.Statistics.HungConnections >= 1);
        Assert.True(linkB.TimedOut >= 3);
        Assert.True(linkB.Ups >= 2);
        Assert.True(result.StandInApproved >= 3);
        Assert.Equal(result.Scheduled, result.Approved + result.Declined + result.StandInApproved + result.StandInDeclined);
        Assert.Equal(result.Advices.Queued, result.Advices.Acknowledged);
    }

    [Fact]
    public async Task RunAsync_LinksFileChanges_LinksAddedAndRemoved_MalformedLineSkippedAndCounted()
    {
        await using var a = new FakeIssuer();
        await using var b = new FakeIssuer();
        var path = Path.Combine(_directory, "links");
        WriteLinks(path, $"# card link instances\n{a.EndPoint}\nnot a link\n");
        using var stop = new CancellationTokenSource(RunMax);
        var options = SimulatorOptions(a) with
        {
            IssuerEndPoint = null,
            IssuerLinkSource = new IssuerLinksFile(path),
            LinkListRefreshInterval = TimeSpan.FromMilliseconds(50),
            Duration = null,
        };
        var run = new SchemeSimulator(options).RunAsync(cancellationToken: stop.Token);

        Assert.True(await EventuallyAsync(() => AuthorizedPans(a).Count >= 5));
        Assert.Empty(b.Received);
        WriteLinks(path, $"{a.EndPoint}\n{b.EndPoint}\n");
        Assert.True(await EventuallyAsync(() => AuthorizedPans(b).Count >= 5), "B was not picked up");
        WriteLinks(path, $"{b.EndPoint}\n");
        Assert.True(await EventuallyAsync(() => a.ReceivedOf(MessageTypeIndicator.NetworkManagementRequest).Any(m => m.GetString(Iso8583Fields.NetworkManagementCode) == "002")), "A was not signed off");
        await Task.Delay(200);
        var toA = a.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Count;
        var toB = b.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Count;
        Assert.True(await EventuallyAsync(() => b.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Count >= toB + 10));
        await stop.CancelAsync();
        var result = await run.WaitAsync(RunMax);

        Assert.Equal(toA, a.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Count);
        Assert.Equal(1, result.LinkListMalformedLines);
        Assert.Equal(0, result.LinkListReadErrors);
        Assert.Contains(result.Links, link => link.Removed && link.Name == IssuerLinkAddresses.Format(a.EndPoint));
        Assert.Contains(result.Links, link => !link.Removed && link.Name == IssuerLinkAddresses.Format(b.EndPoint));
    }

    [Fact]
    public async Task RunAsync_EmptyLinksFile_StandsInForEveryAuthorisation()
    {
        var path = Path.Combine(_directory, "links");
        WriteLinks(path, string.Empty);
        var options = SimulatorOptions(new IPEndPoint(IPAddress.Loopback, 1)) with
        {
            IssuerEndPoint = null,
            IssuerLinkSource = new IssuerLinksFile(path),
            SignOnRequired = false,
            SignOnTimeout = TimeSpan.FromMilliseconds(100),
            Duration = TimeSpan.FromSeconds(0.2),
            DrainTimeout = TimeSpan.FromMilliseconds(100),
            StandInLimitMinor = 1_000_000,
        };

        var result = await new SchemeSimulator(options).RunAsync().WaitAsync(RunMax);

        Assert.Equal(20, result.Scheduled);
        Assert.Equal(20, result.StandInApproved);
        Assert.Equal(20, result.NotSent);
        Assert.Equal(0, result.Sent);
        Assert.Empty(result.Links);
        Assert.Equal(20, result.Advices.Queued);
        Assert.Equal(20, result.Advices.Abandoned);
    }

    [Fact]
    public async Task RunAsync_SignOnNotRequired_StoppedBeforeAnyLinkCameUp_ReturnsAResult()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var options = SimulatorOptions(new IPEndPoint(IPAddress.Loopback, FreePort())) with
        {
            SignOnRequired = false,
            SignOnTimeout = TimeSpan.FromSeconds(30),
            Duration = null,
        };

        var result = await new SchemeSimulator(options).RunAsync(cancellationToken: stop.Token).WaitAsync(RunMax);

        Assert.Equal(0, result.Scheduled);
        Assert.False(Assert.Single(result.Links).IsUp);
    }

    [Fact]
    public async Task RunAsync_FixedLinksOneRefusing_RunsOnTheOther()
    {
        await using var a = new FakeIssuer();
        var options = SimulatorOptions(a) with
        {
            IssuerEndPoint = null,
            IssuerEndPoints = [a.EndPoint, new IPEndPoint(IPAddress.Loopback, FreePort())],
        };

        var result = await new SchemeSimulator(options).RunAsync().WaitAsync(RunMax);

        Assert.Equal(50, result.Approved);
        Assert.Equal(50, a.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Count);
        Assert.Equal([1L, 0L], result.Links.Select(link => link.Ups));
    }

    [Fact]
    public void Validate_NoOrSeveralLinkSources_Refused()
    {
        var options = SimulatorOptions(new IPEndPoint(IPAddress.Loopback, 1));

        Assert.Throws<ArgumentException>(() => new SchemeSimulator(options with { IssuerEndPoint = null }));
        Assert.Throws<ArgumentException>(() => new SchemeSimulator(options with { IssuerEndPoints = [new IPEndPoint(IPAddress.Loopback, 2)] }));
        Assert.Throws<ArgumentException>(() => new SchemeSimulator(options with { IssuerEndPoint = null, IssuerEndPoints = [] }));
    }

    private static SchemeSimulatorOptions TwoLinks(FakeIssuer a, FakeIssuer b) => SimulatorOptions(a) with
    {
        IssuerEndPoint = null,
        IssuerEndPoints = [a.EndPoint, b.EndPoint],
        Cards = Cards(40),
    };

    private static HashSet<string> AuthorizedPans(FakeIssuer issuer) =>
        [.. issuer.ReceivedOf(MessageTypeIndicator.AuthorizationRequest).Select(message => message.GetPrimaryAccountNumber())];

    /// <summary>Written whole and renamed, as a supervisor should: the reader never sees half a file.</summary>
    private static void WriteLinks(string path, string content)
    {
        File.WriteAllText(path + ".tmp", content);
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
