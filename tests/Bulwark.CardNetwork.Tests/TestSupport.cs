using System.Globalization;
using Bulwark.CardNetwork.Link;
using Bulwark.CardNetwork.Traffic;
using Bulwark.Iso8583;

namespace Bulwark.CardNetwork.Tests;

internal static class TestSupport
{
    public static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(20);

    /// <summary>Polls <paramref name="condition"/> every 10 ms for at most <see cref="WaitMax"/>.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        var until = DateTime.UtcNow + WaitMax;
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                return false;
            }

            await Task.Delay(10);
        }

        return true;
    }

    public static SchemeLinkOptions LinkOptions(FakeIssuer issuer, TimeSpan? deadline = null) => LinkOptions(issuer.EndPoint, deadline);

    public static SchemeLinkOptions LinkOptions(System.Net.EndPoint endPoint, TimeSpan? deadline = null) => new()
    {
        IssuerEndPoint = endPoint,
        ResponseDeadline = deadline ?? TimeSpan.FromSeconds(5),
        ReconnectDelayMin = TimeSpan.FromMilliseconds(20),
        ReconnectDelayMax = TimeSpan.FromMilliseconds(100),
    };

    public static async Task<SchemeLink> SignedOnLinkAsync(SchemeLinkOptions options)
    {
        var link = new SchemeLink(options);
        link.Start();
        await link.WaitForSignOnAsync().WaitAsync(WaitMax);
        return link;
    }

    /// <summary>A loopback port nothing listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Luhn-valid test PANs on a test BIN.</summary>
    public static IReadOnlyList<SchemeCard> Cards(int count) =>
        [.. Enumerable.Range(0, count).Select(index =>
        {
            var body = string.Create(CultureInfo.InvariantCulture, $"999999{index:D9}");
            return new SchemeCard(body + LuhnCheckDigit(body), DateTime.UtcNow.Year + 3, 12);
        })];

    public static Iso8583MessageBuilder Authorization(SchemeLink link, string rrn, long amount = 1_234) =>
        new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest)
            .Set(Iso8583Fields.PrimaryAccountNumber, "4111111111111111")
            .Set(Iso8583Fields.ProcessingCode, "000000")
            .Set(Iso8583Fields.Amount, amount)
            .Set(Iso8583Fields.TransmissionDateTime, DateTime.UtcNow)
            .Set(Iso8583Fields.SystemsTraceAuditNumber, link.NextSystemsTraceAuditNumber())
            .Set(Iso8583Fields.RetrievalReferenceNumber, rrn)
            .Set(Iso8583Fields.CurrencyCode, "826");

    public static SchemeSimulatorOptions SimulatorOptions(FakeIssuer issuer) => SimulatorOptions(issuer.EndPoint);

    public static SchemeSimulatorOptions SimulatorOptions(System.Net.EndPoint issuer) => new()
    {
        IssuerEndPoint = issuer,
        Cards = Cards(20),
        RatePerSecond = 100,
        Duration = TimeSpan.FromSeconds(0.5),
        // Long enough that a loaded CI machine does not turn answers into timeouts; tests of
        // timeouts use a silent issuer and set their own short deadline.
        ResponseDeadline = TimeSpan.FromSeconds(5),
        ReconnectDelayMin = TimeSpan.FromMilliseconds(20),
        ReconnectDelayMax = TimeSpan.FromMilliseconds(100),
        StoreAndForwardRetryDelay = TimeSpan.FromMilliseconds(50),
        DrainTimeout = TimeSpan.FromSeconds(15),
        ReversalShare = 0,
    };

    private static char LuhnCheckDigit(string digits)
    {
        var sum = 0;
        var doubleIt = true;
        for (var index = digits.Length - 1; index >= 0; index--)
        {
            var digit = digits[index] - '0';
            if (doubleIt)
            {
                digit = digit * 2 > 9 ? (digit * 2) - 9 : digit * 2;
            }

            sum += digit;
            doubleIt = !doubleIt;
        }

        return (char)('0' + ((10 - (sum % 10)) % 10));
    }
}
