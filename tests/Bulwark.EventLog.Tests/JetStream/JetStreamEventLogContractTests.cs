using Bulwark.EventLog.JetStream;
using Bulwark.EventLog.Tests.Fixtures;

namespace Bulwark.EventLog.Tests.JetStream;

/// <summary>The shared contract on JetStream, against a real nats-server of the test's own.</summary>
public sealed class JetStreamEventLogContractTests : EventLogContractTests
{
    private readonly NatsServer _server = NatsServer.Start();

    protected override async Task<IEventLog> OpenLogAsync() =>
        await JetStreamEventLog.OpenAsync(new JetStreamEventLogOptions { Url = _server.Url, Bank = "test" });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _server.Dispose();
    }
}
