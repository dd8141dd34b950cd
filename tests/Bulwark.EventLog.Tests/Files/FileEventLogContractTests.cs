using Bulwark.EventLog.Files;
using Bulwark.EventLog.Tests.Fixtures;

namespace Bulwark.EventLog.Tests.Files;

/// <summary>The shared contract on the file store, with small segments so that rolling is exercised too.</summary>
public sealed class FileEventLogContractTests : EventLogContractTests
{
    private readonly TempDirectory _directory = new();

    protected override Task<IEventLog> OpenLogAsync() =>
        Task.FromResult<IEventLog>(FileEventLog.Open(new FileEventLogOptions { Directory = _directory.Path, SegmentBytes = 4096 }));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}
