using Bulwark.Ledger.Protos;
using Bulwark.Platform.Placement;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Routing;

/// <summary>
/// The ledger as one service to every client, whatever the number of cells: a
/// <see cref="CallInvoker"/> that stands behind <c>GetChannel("ledger")</c>, so
/// <c>new LedgerClient(channel)</c> is routed unchanged. Each unary Ledger call is split by the
/// placement map into one part per cell (<see cref="PartitionRouting"/>), each part sent to its
/// cell through that cell's discovery channel (<c>ledger-&lt;cell&gt;</c>), and the answers merged
/// in request order. The caller's messages are generated in its own assembly: they are read and
/// written here through the method's own marshallers, and carried as the router's copy of the
/// contract in between.
/// </summary>
public sealed class LedgerCellRouter : CallInvoker
{
    private readonly PartitionRouting _routing;
    private readonly AccountRoutes _accounts;
    private readonly TransferLookup _lookup;
    private readonly TransferRoutes _transfers;

    /// <param name="view">The placement map to route by.</param>
    /// <param name="cellChannel">The calls to one cell, by cell name (the platform's discovery channel of <c>ledger-&lt;cell&gt;</c>).</param>
    public LedgerCellRouter(PlacementView view, Func<string, CallInvoker> cellChannel, LedgerRouterMetrics metrics, TimeProvider time, ILogger<LedgerCellRouter> logger, LedgerRouterLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(cellChannel);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        limits ??= new LedgerRouterLimits();
        limits.Validate();
        _routing = new PartitionRouting(view, cellChannel, limits, metrics, time, logger);
        _accounts = new AccountRoutes(_routing);
        _lookup = new TransferLookup(_routing);
        _transfers = new TransferRoutes(_routing, _lookup);
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        ArgumentNullException.ThrowIfNull(method);
        var response = RouteAsync(method, options, request);
        return new AsyncUnaryCall<TResponse>(
            response,
            Task.FromResult(new Metadata()),
            () => response.Status switch
            {
                TaskStatus.RanToCompletion => Status.DefaultSuccess,
                _ when response.Exception?.InnerException is RpcException error => error.Status,
                _ when response.IsCanceled => new Status(StatusCode.Cancelled, "cancelled"),
                _ when response.IsFaulted => new Status(StatusCode.Internal, response.Exception!.InnerException!.Message),
                _ => throw new InvalidOperationException("The call has not finished."),
            },
            () => response.Exception?.InnerException is RpcException error ? error.Trailers : [],
            () => { });
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        AsyncUnaryCall(method, host, options, request).ResponseAsync.GetAwaiter().GetResult();

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw Unimplemented(method);

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw Unimplemented(method);

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw Unimplemented(method);

    private async Task<TResponse> RouteAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options, TRequest request)
        where TRequest : class
        where TResponse : class
    {
        if (!string.Equals(method.ServiceName, PartitionRouting.ServiceName, StringComparison.Ordinal) || method.Type != MethodType.Unary)
        {
            throw Unimplemented(method);
        }
        try
        {
            options.CancellationToken.ThrowIfCancellationRequested();
            var call = new RoutingCall(method.Name, options, _routing.Time.GetUtcNow(), _routing.Limits);
            var answer = await DispatchAsync(call, MessageBytes.Serialize(method.RequestMarshaller, request)).ConfigureAwait(false);
            return MessageBytes.Deserialize(method.ResponseMarshaller, answer);
        }
        catch (OperationCanceledException) when (options.CancellationToken.IsCancellationRequested)
        {
            // A caller that cancels sees what a channel gives it: a status, not a .NET exception.
            throw new RpcException(new Status(StatusCode.Cancelled, $"{method.Name} was cancelled by the caller"));
        }
    }

    private async Task<byte[]> DispatchAsync(RoutingCall call, byte[] bytes) =>
        call.Method switch
        {
            nameof(Protos.Ledger.LedgerClient.CreateAccounts) => (await _accounts.CreateAsync(CreateAccountsRequest.Parser.ParseFrom(bytes), call).ConfigureAwait(false)).ToByteArray(),
            nameof(Protos.Ledger.LedgerClient.GetAccounts) => (await _accounts.GetAsync(GetAccountsRequest.Parser.ParseFrom(bytes), call).ConfigureAwait(false)).ToByteArray(),
            nameof(Protos.Ledger.LedgerClient.SubmitTransfers) => (await _transfers.SubmitAsync(SubmitTransfersRequest.Parser.ParseFrom(bytes), call).ConfigureAwait(false)).ToByteArray(),
            nameof(Protos.Ledger.LedgerClient.GetTransfers) => (await _lookup.GetAsync(GetTransfersRequest.Parser.ParseFrom(bytes), call).ConfigureAwait(false)).ToByteArray(),
            nameof(Protos.Ledger.LedgerClient.ListAccountTransfers) => (await _transfers.ListAsync(ListAccountTransfersRequest.Parser.ParseFrom(bytes), call).ConfigureAwait(false)).ToByteArray(),
            nameof(Protos.Ledger.LedgerClient.ApplyCreditLegs) => (await _transfers.ApplyCreditLegsAsync(ApplyCreditLegsRequest.Parser.ParseFrom(bytes), call).ConfigureAwait(false)).ToByteArray(),
            _ => await PassThroughAsync(call, bytes).ConfigureAwait(false),
        };

    /// <summary>
    /// A Ledger method this router does not know (newer than it): with one cell there is nothing
    /// to split and the call goes to it whole; with several, it is refused rather than guessed at.
    /// </summary>
    private async Task<byte[]> PassThroughAsync(RoutingCall call, byte[] request)
    {
        var map = _routing.RequireMap();
        var cells = Enumerable.Range(0, map.PartitionCount).Select(partition => _routing.PlacementOf(map, partition).Cell).Distinct(StringComparer.Ordinal).ToList();
        if (cells.Count != 1)
        {
            throw new RpcException(new Status(StatusCode.Unimplemented, $"the ledger router does not know how to split {call.Method} over {cells.Count} cells"));
        }
        return await _routing.CallCellAsync(call, cells[0], call.Method, request).ConfigureAwait(false);
    }

    private static RpcException Unimplemented(IMethod method) =>
        new(new Status(StatusCode.Unimplemented, $"the ledger router routes the unary methods of {PartitionRouting.ServiceName}, not {method.FullName}"));
}
