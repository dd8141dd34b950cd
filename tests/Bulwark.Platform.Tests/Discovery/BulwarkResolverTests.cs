using Bulwark.Platform.Discovery;
using Bulwark.Platform.Registry;
using Grpc.Core;

namespace Bulwark.Platform.Tests.Discovery;

public sealed class BulwarkResolverTests
{
    [Fact]
    public void ToResult_NoInstances_FailsUnavailableNamingTheService()
    {
        var result = BulwarkResolver.ToResult(new ServiceView("ledger", [], 1, Authoritative: true));

        Assert.Equal(StatusCode.Unavailable, result.Status.StatusCode);
        Assert.Contains("'ledger'", result.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ToResult_BadAddressAmongGood_SkipsOnlyTheBadOne()
    {
        var view = new ServiceView("ledger",
        [
            new ServiceInstance("ledger", "a", "127.0.0.1:5001", "v1"),
            new ServiceInstance("ledger", "b", "not-an-address", "v1"),
            new ServiceInstance("ledger", "c", "127.0.0.1:99999", "v1"),
            new ServiceInstance("ledger", "d", "[::1]:5002", "v1"),
        ], 1, Authoritative: true);

        var result = BulwarkResolver.ToResult(view);

        Assert.Equal(StatusCode.OK, result.Status.StatusCode);
        Assert.NotNull(result.Addresses);
        Assert.Equal(["127.0.0.1:5001", "::1:5002"], result.Addresses.Select(a => $"{a.EndPoint.Host}:{a.EndPoint.Port}"));
    }

    [Fact]
    public void ToResult_OnlyBadAddresses_FailsUnavailable()
    {
        var result = BulwarkResolver.ToResult(new ServiceView("feed", [new ServiceInstance("feed", "a", ":0", "v1")], 1, Authoritative: true));

        Assert.Equal(StatusCode.Unavailable, result.Status.StatusCode);
    }
}
