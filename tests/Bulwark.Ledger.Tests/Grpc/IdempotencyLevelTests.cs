using Bulwark.Ledger.Protos;
using Google.Protobuf.Reflection;

namespace Bulwark.Ledger.Tests.Grpc;

/// <summary>
/// Issue 11, item 3: the platform retries NO_SIDE_EFFECTS and IDEMPOTENT calls that fail with
/// UNAVAILABLE, so each method's level must be true. Every method is listed: a new one fails here
/// until someone decides its level.
/// </summary>
public sealed class IdempotencyLevelTests
{
    private static readonly Dictionary<string, MethodOptions.Types.IdempotencyLevel> Expected = new(StringComparer.Ordinal)
    {
        // Idempotent by id: the same id and body is a duplicate, never a second account or transfer.
        ["CreateAccounts"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        ["SubmitTransfers"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        // Idempotent by leg id: a redelivered credit leg answers duplicate.
        ["ApplyCreditLegs"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        // Reads of the store: expiry is the writer's sweep, never a read's doing.
        ["GetAccounts"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        ["GetTransfers"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        ["ListAccountTransfers"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
    };

    [Fact]
    public void LedgerContract_EveryMethod_DeclaresWhatItDoes()
    {
        var methods = LedgerReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Ledger").Methods;

        Assert.Equal(Expected.Keys.Order(StringComparer.Ordinal), methods.Select(method => method.Name).Order(StringComparer.Ordinal));
        Assert.All(methods, method => Assert.Equal((method.Name, Expected[method.Name]), (method.Name, method.GetOptions()?.IdempotencyLevel ?? MethodOptions.Types.IdempotencyLevel.IdempotencyUnknown)));
    }
}
