using Bulwark.Config.Validation;
using Grpc.Core;

namespace Bulwark.Config.Identity;

/// <summary>
/// Today's caller identity: NOT AUTHENTICATED. There are no staff or service credentials yet, so
/// the service records what the caller claims in the <see cref="ActorHeader"/> request header,
/// marked <see cref="UnverifiedSuffix"/> so that nobody reading a key's history mistakes a claim
/// for a proven identity, or <see cref="Unauthenticated"/> when the header is absent. Any caller
/// that can reach the internal port can claim any name. Staff tokens (issue 14, item 3) replace
/// this class.
/// </summary>
public sealed class UnauthenticatedCallerIdentity : ICallerIdentity
{
    public const string ActorHeader = "bulwark-actor";

    public const string Unauthenticated = "unauthenticated";

    public const string UnverifiedSuffix = " (unverified)";

    public string Actor(ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var claimed = context.RequestHeaders.GetValue(ActorHeader)?.Trim();
        if (string.IsNullOrEmpty(claimed))
        {
            return Unauthenticated;
        }
        if (claimed.Length > ConfigLimits.ActorLengthMax || claimed.Any(character => char.IsControl(character)))
        {
            throw ConfigErrors.Invalid(ActorHeader, $"must be 1 to {ConfigLimits.ActorLengthMax} printable characters.");
        }
        return claimed + UnverifiedSuffix;
    }
}
