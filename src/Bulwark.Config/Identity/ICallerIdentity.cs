using Grpc.Core;

namespace Bulwark.Config.Identity;

/// <summary>
/// Who is calling, as recorded in a change's <c>changed_by</c>. The one seam through which the
/// service learns its caller, so that staff tokens (issue 14, item 3) replace the implementation
/// and nothing else.
/// </summary>
public interface ICallerIdentity
{
    /// <summary>The caller's name for <c>changed_by</c>; throws an INVALID_ARGUMENT <see cref="RpcException"/> when the caller's claim is malformed.</summary>
    string Actor(ServerCallContext context);
}
