using Bulwark.Support.Protos;
using Google.Protobuf.Reflection;

namespace Bulwark.Support.Tests.Grpc;

/// <summary>
/// A method's idempotency_level is a promise the platform acts on (it retries NO_SIDE_EFFECTS and
/// IDEMPOTENT calls that fail with UNAVAILABLE): every approvals method is listed with the reason
/// a retry is safe, and a new one fails here until someone decides its level.
/// </summary>
public sealed class ApprovalsIdempotencyLevelTests
{
    private static readonly Dictionary<string, MethodOptions.Types.IdempotencyLevel> Expected = new(StringComparer.Ordinal)
    {
        // One approval per (maker, client request id): a retry answers it.
        ["Propose"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        ["Get"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        ["List"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        // The same checker's repeat answers the decision unchanged, appending nothing.
        ["Approve"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        ["Refuse"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        // The same outcome recorded twice answers it unchanged.
        ["RecordExecution"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
    };

    [Fact]
    public void ApprovalsContract_EveryMethod_DeclaresWhatItDoes()
    {
        var methods = ApprovalsReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Approvals").Methods;

        Assert.Equal(Expected.Keys.Order(StringComparer.Ordinal), methods.Select(method => method.Name).Order(StringComparer.Ordinal));
        Assert.All(methods, method => Assert.Equal((method.Name, Expected[method.Name]),
            (method.Name, method.GetOptions()?.IdempotencyLevel ?? MethodOptions.Types.IdempotencyLevel.IdempotencyUnknown)));
    }
}
