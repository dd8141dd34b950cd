using System.Collections.Concurrent;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Routing;

public static class LedgerRoutingServiceCollectionExtensions
{
    /// <summary>The service name every ledger client calls; cell <c>a</c> registers as <c>ledger-a</c>.</summary>
    public const string LedgerService = "ledger";

    /// <summary>
    /// The request header naming the cell a part is for (Bulwark.Ledger's LedgerCells.CellHeader):
    /// a process serving several cells (the one-process bank) picks the cell by it, and a process
    /// reached by mistake refuses rather than answering for another cell.
    /// </summary>
    public const string CellHeader = "bulwark-cell";

    /// <summary>
    /// Routes every call to <c>ledger</c> through a <see cref="LedgerCellRouter"/> over the
    /// registered <see cref="PlacementView"/> (see <see cref="PlacementServiceCollectionExtensions.AddPlacement"/>):
    /// clients made from <c>GetChannel("ledger")</c> reach the cells unchanged.
    /// </summary>
    public static IServiceCollection AddLedgerRouting(this IServiceCollection services, LedgerRouterLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        (limits ?? new LedgerRouterLimits()).Validate();
        services.TryAddSingleton<LedgerRouterMetrics>();
        return services.AddServiceRouter(LedgerService, (provider, channelFor) => new LedgerCellRouter(
            provider.GetRequiredService<PlacementView>(),
            CellChannels(channelFor),
            provider.GetRequiredService<LedgerRouterMetrics>(),
            provider.GetService<TimeProvider>() ?? TimeProvider.System,
            provider.GetRequiredService<ILogger<LedgerCellRouter>>(),
            limits));
    }

    private static Func<string, CallInvoker> CellChannels(Func<string, CallInvoker> channelFor)
    {
        var channels = new ConcurrentDictionary<string, CallInvoker>(StringComparer.Ordinal);
        return cell => channels.GetOrAdd(cell, name => channelFor(PlacementMap.ServiceOf(name, LedgerService)).Intercept(new CellHeaderInterceptor(name)));
    }

    /// <summary>Names the cell on every part sent to it, on a copy of the headers (parts of one call share them).</summary>
    private sealed class CellHeaderInterceptor(string cell) : Interceptor
    {
        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
            AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            var headers = new Metadata();
            foreach (var entry in context.Options.Headers ?? [])
            {
                if (!string.Equals(entry.Key, CellHeader, StringComparison.OrdinalIgnoreCase))
                {
                    headers.Add(entry);
                }
            }
            headers.Add(CellHeader, cell);
            return continuation(request, new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithHeaders(headers)));
        }
    }
}
