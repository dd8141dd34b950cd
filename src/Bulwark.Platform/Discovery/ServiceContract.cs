using System.Reflection;
using Google.Protobuf.Reflection;
using Grpc.Net.Client.Configuration;

namespace Bulwark.Platform.Discovery;

/// <summary>
/// A service's gRPC contract as its callers see it. The contract's own proto says which methods
/// are safe to send twice (<c>option idempotency_level = NO_SIDE_EFFECTS</c> for reads,
/// <c>IDEMPOTENT</c> for writes keyed by a client-chosen id); the channel to the service retries
/// exactly those, and nothing else.
/// </summary>
public sealed record ServiceContract(string Service, ServiceDescriptor Descriptor)
{
    /// <summary>
    /// The descriptor of the gRPC service a generated client belongs to (the static
    /// <c>Descriptor</c> of the class the generated client is nested in), or null when
    /// <paramref name="clientType"/> is not a generated client.
    /// </summary>
    public static ServiceDescriptor? DescriptorOfClient(Type clientType)
    {
        ArgumentNullException.ThrowIfNull(clientType);
        return clientType.DeclaringType?.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as ServiceDescriptor;
    }

    /// <summary>The methods a call may be retried on: those the proto declares idempotent or free of side effects.</summary>
    public IEnumerable<MethodDescriptor> RetryableMethods() =>
        Descriptor.Methods.Where(method =>
            !method.IsClientStreaming
            && !method.IsServerStreaming
            && method.GetOptions()?.IdempotencyLevel is MethodOptions.Types.IdempotencyLevel.NoSideEffects or MethodOptions.Types.IdempotencyLevel.Idempotent);
}

/// <summary>
/// The retry rule of internal calls. A call that failed with <c>UNAVAILABLE</c> (refused at
/// connect, the instance stopping, the callee saying its own dependency did not answer) is sent
/// again, to the next instance the balancer picks, when its method is safe to repeat. Bounded
/// three ways: attempts, backoff within the call's own deadline, and a per-channel throttle that
/// stops retrying when most calls fail (so a service that is down, or scaled to 0, is not hit
/// with a retry storm and its callers still fail fast).
/// </summary>
public static class ServiceRetryPolicy
{
    /// <summary>Attempts per call, the first included.</summary>
    public const int MaxAttempts = 3;

    public static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(20);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromMilliseconds(200);

    /// <summary>The channel's service config: round robin, plus retries for the contract's safe methods.</summary>
    public static ServiceConfig CreateServiceConfig(IEnumerable<ServiceContract> contracts)
    {
        ArgumentNullException.ThrowIfNull(contracts);
        var config = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } };
        var names = contracts
            .SelectMany(contract => contract.RetryableMethods())
            .Select(method => (Service: method.Service.FullName, Method: method.Name))
            .Distinct()
            .ToList();
        if (names.Count == 0)
        {
            return config;
        }
        var methodConfig = new MethodConfig
        {
            RetryPolicy = new RetryPolicy
            {
                MaxAttempts = MaxAttempts,
                InitialBackoff = InitialBackoff,
                MaxBackoff = MaxBackoff,
                BackoffMultiplier = 2,
                RetryableStatusCodes = { Grpc.Core.StatusCode.Unavailable },
            },
        };
        foreach (var (service, method) in names)
        {
            methodConfig.Names.Add(new MethodName { Service = service, Method = method });
        }
        config.MethodConfigs.Add(methodConfig);
        // gRPC's throttle: every failure costs a token, every success returns 0.1; retries stop
        // while fewer than half of the 10 tokens are left.
        config.RetryThrottling = new RetryThrottlingPolicy { MaxTokens = 10, TokenRatio = 0.1 };
        return config;
    }
}
