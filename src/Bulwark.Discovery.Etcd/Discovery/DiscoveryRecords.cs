using System.Text.Json;
using System.Text.Json.Serialization;
using Bulwark.Platform.Registry;

namespace Bulwark.Discovery.Etcd.Discovery;

/// <summary>The JSON value of <c>/bulwark/services/&lt;service&gt;/&lt;instance&gt;</c>.</summary>
public sealed record InstanceRecord(
    [property: JsonPropertyName("address")] string? Address,
    [property: JsonPropertyName("version")] string? Version,
    [property: JsonPropertyName("startedAt")] DateTimeOffset? StartedAt);

/// <summary>The JSON value of <c>/bulwark/deployments/&lt;service&gt;</c>: the desired state.</summary>
public sealed record DeploymentRecord(
    [property: JsonPropertyName("replicas")] int? Replicas,
    [property: JsonPropertyName("version")] string? Version);

/// <summary>Why a record was skipped (a metric tag and a log field).</summary>
public enum SkipReason
{
    Empty,
    Null,
    Malformed,
    MissingAddress,
    BadAddress,
    BadKey,
    BadReplicas,
}

/// <summary>
/// Rule R1: every record is parsed on its own. A null, empty, malformed or unknown-shape record
/// is skipped with a reason and counted; it never throws and never takes its neighbours with it.
/// </summary>
public static class DiscoveryRecords
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static byte[] Serialize(InstanceRecord record) => JsonSerializer.SerializeToUtf8Bytes(record, Json);

    public static byte[] Serialize(DeploymentRecord record) => JsonSerializer.SerializeToUtf8Bytes(record, Json);

    /// <summary>Parses one instance record; false with a reason when it cannot be used.</summary>
    public static bool TryParseInstance(string service, string instanceId, ReadOnlySpan<byte> value, out ServiceInstance instance, out SkipReason reason)
    {
        instance = null!;
        if (!TryDeserialize<InstanceRecord>(value, out var record, out reason))
        {
            return false;
        }
        if (instanceId.Length == 0 || instanceId.Contains('/', StringComparison.Ordinal))
        {
            reason = SkipReason.BadKey;
            return false;
        }
        if (string.IsNullOrWhiteSpace(record.Address))
        {
            reason = SkipReason.MissingAddress;
            return false;
        }
        if (!IsHostPort(record.Address))
        {
            reason = SkipReason.BadAddress;
            return false;
        }
        instance = new ServiceInstance(service, instanceId, record.Address, record.Version ?? "unknown");
        return true;
    }

    /// <summary>Parses a deployment record; false with a reason when it cannot be used.</summary>
    public static bool TryParseDeployment(ReadOnlySpan<byte> value, out DeploymentRecord deployment, out SkipReason reason)
    {
        if (!TryDeserialize(value, out deployment, out reason))
        {
            return false;
        }
        if (deployment.Replicas is null or < 0)
        {
            reason = SkipReason.BadReplicas;
            return false;
        }
        return true;
    }

    private static bool TryDeserialize<T>(ReadOnlySpan<byte> value, out T record, out SkipReason reason)
        where T : class
    {
        record = null!;
        reason = SkipReason.Malformed;
        if (value.Trim(" \t\r\n"u8).Length == 0)
        {
            reason = SkipReason.Empty;
            return false;
        }
        try
        {
            var parsed = JsonSerializer.Deserialize<T>(value, Json);
            if (parsed is null)
            {
                reason = SkipReason.Null;
                return false;
            }
            record = parsed;
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool IsHostPort(string address)
    {
        var colon = address.LastIndexOf(':');
        return colon > 0
            && int.TryParse(address.AsSpan(colon + 1), out var port) && port is > 0 and <= 65535
            && address[..colon].Trim('[', ']').Length > 0;
    }
}
