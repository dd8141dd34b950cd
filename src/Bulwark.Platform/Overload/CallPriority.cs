using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Bulwark.Platform.Overload;

/// <summary>
/// Which internal calls are shed last. A caller marks its calls with the header
/// <see cref="HeaderName"/>; the card processor does, so a ledger flooded by customer traffic
/// still answers the card network (an authorisation the bank does not answer in time is declined
/// or stood in by the scheme, on the bank's account). Only internal callers can set it: gRPC is
/// refused on the public endpoint.
/// </summary>
public static class CallPriority
{
    public const string HeaderName = "bulwark-priority";

    /// <summary>The one priority there is: card authorisations and the card processor's other ledger calls.</summary>
    public const string Cards = "cards";

    /// <summary>The same calls, each carrying the priority header.</summary>
    public static CallInvoker WithPriority(this CallInvoker invoker)
    {
        ArgumentNullException.ThrowIfNull(invoker);
        return invoker.Intercept(metadata =>
        {
            metadata.Add(HeaderName, Cards);
            return metadata;
        });
    }

    internal static bool IsPriority(ServerCallContext context) =>
        context.RequestHeaders.GetValue(HeaderName) is Cards;
}
