using Bulwark.Feed.Protos;
using Google.Protobuf.Reflection;

namespace Bulwark.Feed.Tests.Grpc;

/// <summary>
/// Issue 11, item 3: the platform retries NO_SIDE_EFFECTS and IDEMPOTENT calls that fail with
/// UNAVAILABLE, so each method's level must be true. Every method is listed: a new one fails here
/// until someone decides its level.
/// </summary>
public sealed class IdempotencyLevelTests
{
    private static readonly Dictionary<string, MethodOptions.Types.IdempotencyLevel> Expected = new(StringComparer.Ordinal)
    {
        // Both only read the ledger (FeedGrpcService): no store, no cache, nothing written.
        ["ListFeed"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        ["SpentToday"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
    };

    [Fact]
    public void FeedContract_EveryMethod_DeclaresWhatItDoes()
    {
        var methods = FeedReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Feed").Methods;

        Assert.Equal(Expected.Keys.Order(StringComparer.Ordinal), methods.Select(method => method.Name).Order(StringComparer.Ordinal));
        Assert.All(methods, method => Assert.Equal((method.Name, Expected[method.Name]), (method.Name, method.GetOptions()?.IdempotencyLevel ?? MethodOptions.Types.IdempotencyLevel.IdempotencyUnknown)));
    }
}
