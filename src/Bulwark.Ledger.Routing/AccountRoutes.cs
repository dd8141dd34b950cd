using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Routing;

/// <summary>CreateAccounts and GetAccounts: split by each account's partition, merged back in request order.</summary>
internal sealed class AccountRoutes(PartitionRouting routing)
{
    public async Task<CreateAccountsResponse> CreateAsync(CreateAccountsRequest request, RoutingCall call)
    {
        var map = routing.RequireMap();
        var partitions = request.Accounts.Select(account => AccountPartitioner.PartitionOf(account.Id, map.PartitionCount)).ToList();
        var results = await routing.RouteAsync<Account, CreateAccountResult>(call, request.Accounts, partitions, async (cell, part, placement) =>
        {
            var answer = await routing.CallCellAsync(call, cell, nameof(Protos.Ledger.LedgerClient.CreateAccounts),
                new CreateAccountsRequest { Accounts = { part }, Placement = { placement } }, CreateAccountsResponse.Parser).ConfigureAwait(false);
            return new PartAnswer<CreateAccountResult>(
                [.. answer.Results.Select(result => result.Status == CreateAccountStatus.WrongOwner ? null : result)], answer.Refusals);
        }).ConfigureAwait(false);
        return new CreateAccountsResponse { Results = { results } };
    }

    public async Task<GetAccountsResponse> GetAsync(GetAccountsRequest request, RoutingCall call)
    {
        var map = routing.RequireMap();
        var partitions = request.Ids.Select(id => AccountPartitioner.PartitionOf(id, map.PartitionCount)).ToList();
        var results = await routing.RouteAsync<Uint128, Lookup>(call, request.Ids, partitions, async (cell, part, placement) =>
        {
            var answer = await routing.CallCellAsync(call, cell, nameof(Protos.Ledger.LedgerClient.GetAccounts),
                new GetAccountsRequest { Ids = { part }, Placement = { placement } }, GetAccountsResponse.Parser).ConfigureAwait(false);
            var found = new Dictionary<UInt128, Account>();
            foreach (var account in answer.Accounts)
            {
                found.TryAdd(Ids.Of(account.Id), account);
            }
            var missing = answer.Missing.Select(Ids.Of).ToHashSet();
            var refused = answer.Refused.Select(Ids.Of).ToHashSet();
            // Only the owner says "missing"; an id the cell neither found, nor called missing, nor
            // refused is treated as refused and asked again, never as missing.
            return new PartAnswer<Lookup>([.. part.Select(Ids.Of).Select(id =>
                refused.Contains(id) ? null
                : found.TryGetValue(id, out var account) ? new Lookup(account)
                : missing.Contains(id) ? Lookup.Missing
                : null)], answer.Refusals);
        }).ConfigureAwait(false);
        var response = new GetAccountsResponse();
        for (var i = 0; i < results.Length; i++)
        {
            if (results[i].Account is { } account)
            {
                response.Accounts.Add(account);
            }
            else
            {
                response.Missing.Add(request.Ids[i]);
            }
        }
        return response;
    }

    /// <summary>One id's answer from its owner: the account, or missing (null).</summary>
    private sealed record Lookup(Account? Account)
    {
        public static readonly Lookup Missing = new((Account?)null);
    }
}
