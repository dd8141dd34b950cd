using Bulwark.Discovery.Etcd.Discovery;
using Bulwark.Platform.Registry;

namespace Bulwark.Discovery.Tests.Discovery;

public sealed class DiscoveryRulesTests
{
    private static readonly ServiceInstance One = new("beta", "b1", "127.0.0.1:5001", "1");
    private static readonly ServiceInstance Two = new("beta", "b2", "127.0.0.1:5002", "1");

    [Fact]
    public void Decide_FreshWithInstances_IsTheViewAndRemovesOthers()
    {
        var previous = new ServiceView("beta", [One, Two], 5, true);

        var view = DiscoveryRules.Decide("beta", [Two], null, fresh: true, 6, previous);

        Assert.Equal([Two], view.Instances);
        Assert.True(view.Authoritative);
    }

    [Fact]
    public void Decide_Stale_NeverRemoves()
    {
        var previous = new ServiceView("beta", [One, Two], 5, true);

        var view = DiscoveryRules.Decide("beta", [], null, fresh: false, 6, previous);

        Assert.Equal([One, Two], view.Instances);
        Assert.False(view.Authoritative);
    }

    [Fact]
    public void Decide_FreshEmptyWithZeroReplicas_AuthoritativeEmptyNamingTheService()
    {
        var previous = new ServiceView("beta", [One], 5, true);

        var view = DiscoveryRules.Decide("beta", [], new DeploymentRecord(0, "1"), fresh: true, 6, previous);

        Assert.Empty(view.Instances);
        Assert.True(view.Authoritative);
        Assert.Contains("'beta'", view.Detail, StringComparison.Ordinal);
        Assert.Contains("scaled to 0", view.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(3)]
    public void Decide_FreshEmptyWithoutZeroReplicas_KeepsLastNonEmptyView(int? replicas)
    {
        var previous = new ServiceView("beta", [One], 5, true);
        var deployment = replicas is null ? null : new DeploymentRecord(replicas, "1");

        var view = DiscoveryRules.Decide("beta", [], deployment, fresh: true, 6, previous);

        Assert.Equal([One], view.Instances);
        Assert.False(view.Authoritative);
    }

    [Fact]
    public void Decide_NeverSeen_EmptyNotAuthoritativeWithReason()
    {
        var view = DiscoveryRules.Decide("nobody", [], null, fresh: true, 6, previous: null);

        Assert.Empty(view.Instances);
        Assert.False(view.Authoritative);
        Assert.Contains("'nobody'", view.Detail, StringComparison.Ordinal);
    }
}
