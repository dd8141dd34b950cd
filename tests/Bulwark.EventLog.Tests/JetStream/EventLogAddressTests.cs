using Bulwark.EventLog.JetStream;

namespace Bulwark.EventLog.Tests.JetStream;

public sealed class EventLogAddressTests
{
    [Fact]
    public void TryParse_SeveralServers_KeepsTheirOrderAndMakesTheClientUrl()
    {
        Assert.True(EventLogAddress.TryParse("nats://127.0.0.1:4222, nats://localhost:4223", out var address, out var error), error);

        Assert.Equal(["127.0.0.1:4222", "localhost:4223"], address!.Servers.Select(s => $"{s.Host}:{s.Port}"));
        Assert.Equal("nats://127.0.0.1:4222,nats://localhost:4223", address.Url);
        Assert.Equal("BULWARK_LEDGER_BULWARK", address.Options(3).Stream);
        Assert.Equal(3, address.Options(3).Replicas);
    }

    [Theory]
    [InlineData(null, "no NATS server given")]
    [InlineData(" ", "no NATS server given")]
    [InlineData("127.0.0.1:4222", "'127.0.0.1:4222' is not a NATS server address")]
    [InlineData("nats://127.0.0.1", "'nats://127.0.0.1' is not a NATS server address")]
    [InlineData("tls://127.0.0.1:4222", "'tls://127.0.0.1:4222' is not a NATS server address")]
    [InlineData("nats://user:secret@127.0.0.1:4222", "is not a NATS server address")]
    [InlineData("nats://127.0.0.1:4222/path", "'nats://127.0.0.1:4222/path' is not a NATS server address")]
    [InlineData("nats://127.0.0.1:4222,", "'' is not a NATS server address")]
    public void TryParse_Malformed_SaysWhichPart(string? text, string expected)
    {
        Assert.False(EventLogAddress.TryParse(text, out var address, out var error));

        Assert.Null(address);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_MoreServersThanTheMaximum_Refused()
    {
        var text = string.Join(",", Enumerable.Range(1, EventLogAddress.ServersMax + 1).Select(i => $"nats://127.0.0.1:{4000 + i}"));

        Assert.False(EventLogAddress.TryParse(text, out _, out var error));
        Assert.Contains($"at most {EventLogAddress.ServersMax}", error, StringComparison.Ordinal);
    }
}
