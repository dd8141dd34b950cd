using Bulwark.Lab.Cluster;

namespace Bulwark.Lab.Tests.Cluster;

/// <summary>The supervisor's rules on their own; its behaviour against real processes is tested through <c>cluster up</c> in Bulwark.Cli.Tests.</summary>
public sealed class ClusterSupervisorTests
{
    [Fact]
    public void Backoff_GrowsFromNothingToTheCap()
    {
        Assert.Equal(TimeSpan.Zero, ClusterSupervisor.Backoff(1));
        Assert.Equal(TimeSpan.FromSeconds(1), ClusterSupervisor.Backoff(2));
        Assert.Equal(TimeSpan.FromSeconds(2), ClusterSupervisor.Backoff(3));
        Assert.Equal(TimeSpan.FromSeconds(16), ClusterSupervisor.Backoff(6));
        Assert.Equal(ClusterSupervisor.BackoffMax, ClusterSupervisor.Backoff(7));
        Assert.Equal(ClusterSupervisor.BackoffMax, ClusterSupervisor.Backoff(1000));
    }

    [Fact]
    public void Backoff_NeverNegativeNorOverTheCap_ForAnyStreak()
    {
        for (var streak = -3; streak < 200; streak++)
        {
            Assert.InRange(ClusterSupervisor.Backoff(streak), TimeSpan.Zero, ClusterSupervisor.BackoffMax);
        }
    }
}
