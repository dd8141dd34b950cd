using Bulwark.Config.Watch;

namespace Bulwark.Config.Tests.Watch;

public sealed class ConfigChangeSignalTests
{
    [Fact]
    public void Notify_CompletesTheWaitTakenBefore_AndTheNextWaitIsNew()
    {
        var signal = new ConfigChangeSignal();
        var taken = signal.Next;
        Assert.Same(taken, signal.Next);
        Assert.False(taken.IsCompleted);

        signal.Notify();

        Assert.True(taken.IsCompletedSuccessfully);
        Assert.False(signal.Next.IsCompleted);
    }
}
