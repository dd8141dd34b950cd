using Bulwark.Edge.BankStatus;
using Bulwark.Edge.Services;
using Grpc.Core;
using ConfigServiceClient = Bulwark.Config.Protos.Config.ConfigClient;

namespace Bulwark.Edge.Staff.Ops;

/// <summary>The banner's key as the configuration service holds it now: the banner (null: none, or not a banner) and the key's version (0: no value).</summary>
public sealed record StoredBanner(StatusBanner? Banner, long Version, bool HoldsValue);

/// <summary>The banner changed between reading and writing it (another staff edge, or a staff member, wrote first).</summary>
public sealed class BannerConflictException(string message) : Exception(message);

/// <summary>Reads and writes the status banner in the configuration service, compare-and-set on the key's version.</summary>
public interface IStatusBannerStore
{
    Task<StoredBanner> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Puts <paramref name="banner"/> if the key is still at <paramref name="expectedVersion"/> (0: holds no value); answers the new version.</summary>
    Task<long> PutAsync(StatusBanner banner, long expectedVersion, string actor, string reason, CancellationToken cancellationToken);

    /// <summary>Deletes the banner if the key is still at <paramref name="expectedVersion"/>.</summary>
    Task DeleteAsync(long expectedVersion, string actor, string reason, CancellationToken cancellationToken);
}

/// <summary>
/// The configuration service's Get, Put and Delete for <see cref="StatusBanner.Key"/>, reached through
/// discovery like every call, each with its own deadline. The actor is sent in the <c>bulwark-actor</c>
/// header, which the configuration service records as the change's changed_by (marked unverified
/// until service authentication exists: docs/concepts/configuration.md).
/// </summary>
internal sealed class ConfigStatusBannerStore(ConfigServiceClient config) : IStatusBannerStore
{
    public const string Service = "config";
    private const string ActorHeader = "bulwark-actor";

    public async Task<StoredBanner> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var reply = await config.GetAsync(new Config.Protos.GetRequest { Key = StatusBanner.Key }, deadline: Deadline(), cancellationToken: cancellationToken);
            if (reply.Entry.Deleted)
            {
                return new StoredBanner(null, 0, HoldsValue: false);
            }
            StatusBanner? banner;
            try
            {
                banner = StatusBanner.Parse(reply.Entry.Value);
            }
            catch (FormatException)
            {
                banner = null;
            }
            return new StoredBanner(banner, reply.Entry.Version, HoldsValue: true);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            // Asked of the service directly, right before a compare-and-set write: a not-found here
            // only means the write expects "no value", which the service checks itself.
            return new StoredBanner(null, 0, HoldsValue: false);
        }
        catch (RpcException error)
        {
            throw new ServiceCallException(Service, error);
        }
    }

    public async Task<long> PutAsync(StatusBanner banner, long expectedVersion, string actor, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(banner);
        try
        {
            var reply = await config.PutAsync(new Config.Protos.PutRequest { Key = StatusBanner.Key, Value = banner.ToJson(), ExpectedVersion = expectedVersion, Reason = reason },
                Headers(actor), Deadline(), cancellationToken);
            return reply.Entry.Version;
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.FailedPrecondition)
        {
            throw new BannerConflictException(error.Status.Detail);
        }
        catch (RpcException error)
        {
            throw new ServiceCallException(Service, error);
        }
    }

    public async Task DeleteAsync(long expectedVersion, string actor, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await config.DeleteAsync(new Config.Protos.DeleteRequest { Key = StatusBanner.Key, ExpectedVersion = expectedVersion, Reason = reason },
                Headers(actor), Deadline(), cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode is StatusCode.FailedPrecondition or StatusCode.NotFound)
        {
            throw new BannerConflictException(error.Status.Detail);
        }
        catch (RpcException error)
        {
            throw new ServiceCallException(Service, error);
        }
    }

    private static Metadata Headers(string actor) => new() { { ActorHeader, actor } };

    // gRPC deadlines are wall-clock instants sent to the server: the real clock, not the injected one (as every call of the edge).
    private static DateTime Deadline() => DateTime.UtcNow.AddMilliseconds(OpsLimits.ConfigCallTimeoutMilliseconds);
}
