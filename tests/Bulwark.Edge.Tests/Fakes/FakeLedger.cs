using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Edge.Tests.Fakes;

/// <summary>An in-memory ledger answering GetAccounts from the fake bank's balances.</summary>
public sealed class FakeLedger(FakeBank bank) : Bulwark.Ledger.Protos.Ledger.LedgerBase
{
    public const string Service = "ledger";

    public override async Task<GetAccountsResponse> GetAccounts(GetAccountsRequest request, ServerCallContext context)
    {
        await bank.EnterAsync(Service, context);
        var response = new GetAccountsResponse();
        lock (bank.Sync)
        {
            foreach (var id in request.Ids)
            {
                var hex = $"{((UInt128)id.High << 64) | id.Low:x32}";
                if (!bank.LedgerAccounts.TryGetValue(hex, out var account))
                {
                    response.Missing.Add(id);
                    continue;
                }
                response.Accounts.Add(new Account
                {
                    Id = id,
                    Currency = account.Currency,
                    Flags = (uint)AccountFlags.DebitsMustNotExceedCredits,
                    OverdraftLimit = account.OverdraftLimit,
                    Code = 1,
                    DebitsPending = account.DebitsPending,
                    DebitsPosted = account.DebitsPosted,
                    CreditsPending = account.CreditsPending,
                    CreditsPosted = account.CreditsPosted,
                });
            }
        }
        return response;
    }
}
