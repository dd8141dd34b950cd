using Bulwark.Platform.Registry;

namespace Bulwark.Platform.Tests.Registry;

public sealed class InMemoryServiceRegistryTests
{
    [Fact]
    public async Task Register_ThenDispose_WatcherSeesAddAndRemove()
    {
        var registry = new InMemoryServiceRegistry();
        var views = new List<ServiceView>();
        using var watch = registry.Watch("ledger", views.Add);

        var registration = await registry.RegisterAsync(new ServiceInstance("ledger", "ledger-1", "127.0.0.1:5001", "v1"), CancellationToken.None);
        await registration.DisposeAsync();

        Assert.Equal(3, views.Count);
        Assert.Empty(views[0].Instances);
        Assert.Equal("127.0.0.1:5001", Assert.Single(views[1].Instances).Address);
        Assert.Empty(views[2].Instances);
        Assert.True(views[2].Revision > views[1].Revision);
    }

    [Fact]
    public async Task Register_SameInstanceTwice_KeepsOneRecord()
    {
        var registry = new InMemoryServiceRegistry();
        await registry.RegisterAsync(new ServiceInstance("feed", "feed-1", "127.0.0.1:1", "v1"), CancellationToken.None);
        await registry.RegisterAsync(new ServiceInstance("feed", "feed-1", "127.0.0.1:2", "v2"), CancellationToken.None);

        var instance = Assert.Single(registry.GetView("feed").Instances);
        Assert.Equal("127.0.0.1:2", instance.Address);
    }

    [Fact]
    public void GetView_UnknownService_IsEmptyNotNull()
    {
        var view = new InMemoryServiceRegistry().GetView("nobody");

        Assert.Empty(view.Instances);
        Assert.Equal("nobody", view.Service);
    }

    [Fact]
    public async Task Watch_Disposed_StopsNotifications()
    {
        var registry = new InMemoryServiceRegistry();
        var calls = 0;
        var watch = registry.Watch("ledger", _ => calls++);
        watch.Dispose();

        await registry.RegisterAsync(ServiceInstance.Create("ledger", "127.0.0.1:5001", "v1"), CancellationToken.None);

        Assert.Equal(1, calls);
    }

    [Theory]
    [InlineData("", "127.0.0.1:1")]
    [InlineData("ledger", "")]
    public async Task Register_BlankFields_Throws(string service, string address)
    {
        var registry = new InMemoryServiceRegistry();

        await Assert.ThrowsAsync<ArgumentException>(async () =>
            await registry.RegisterAsync(new ServiceInstance(service, "x", address, "v1"), CancellationToken.None));
    }
}
