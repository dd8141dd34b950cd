using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Bulwark.Accounts.Protos;
using Bulwark.Cli.Demo;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Cli.Operator;

/// <summary>
/// <c>bulwark customers create</c> once its input is checked: the customer (CreateCustomer), then
/// the opening balance from the bank's funding account (the ledger), as the demo seeder funds salaries.
/// </summary>
internal static class CustomerCreation
{
    /// <summary>The new account without a balance: its balance is the opening balance, printed beside it.</summary>
    private static JsonObject AccountJson(CurrentAccount account)
    {
        var json = CustomerDetails.ToJson(account, null);
        json.Remove("balance");
        return json;
    }

    public static async Task<int> RunAsync(BankConnection bank, CreateCustomerRequest request, long openingBalance, bool json, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bank);
        ArgumentNullException.ThrowIfNull(output);
        var created = await bank.Accounts.CreateCustomerAsync(request, cancellationToken: cancellationToken);
        string? transferId = null;
        if (openingBalance > 0)
        {
            // A fresh id (never zero): the channel's own retries resend the same request, so the same id.
            var bytes = RandomNumberGenerator.GetBytes(16);
            // In the bank's own namespace: the ledger refuses a bank job's transfer with any other top byte.
            var id = Uint128.InNamespace(IdNamespace.Bank, new UInt128(BitConverter.ToUInt64(bytes, 0), BitConverter.ToUInt64(bytes, 8) | 1));
            var seeder = new DemoSeeder(bank.Accounts, bank.Ledger, TextWriter.Null);
            try
            {
                transferId = await seeder.FundAsync(created.Account.LedgerAccountId, openingBalance, id, "Opening balance", cancellationToken);
            }
            catch (Exception error) when (error is InvalidOperationException or RpcException { StatusCode: not StatusCode.Cancelled })
            {
                // The customer exists either way: say so, rather than a bare error that suggests nothing happened.
                var problem = error is RpcException rpc ? Commands.CustomersCommand.Describe(rpc, bank.Description).Message : error.Message;
                throw new OperatorException($"customer {created.Customer.CustomerId} was created, but the opening balance was not paid: {problem}");
            }
        }
        var canLogIn = request.Password.Length > 0;
        if (json)
        {
            await output.WriteLineAsync(new JsonObject
            {
                ["customer"] = CustomerViews.ToJson(created.Customer),
                ["account"] = AccountJson(created.Account),
                ["openingBalance"] = openingBalance,
                ["openingBalanceTransferId"] = transferId,
                ["canLogIn"] = canLogIn,
            }.ToJsonString(CustomerViews.JsonOptions));
            return 0;
        }
        var account = created.Account;
        await output.WriteLineAsync($"created customer {created.Customer.CustomerId}: {created.Customer.Name} <{created.Customer.Email}>");
        await output.WriteLineAsync($"current account {CustomerViews.SortCode(account.SortCode)} {account.AccountNumber} ({account.Currency}), ledger account {account.LedgerAccountId}");
        if (transferId is not null)
        {
            await output.WriteLineAsync($"opening balance {account.Currency} {CustomerViews.Money(openingBalance)} paid from the bank's funding account (transfer {transferId})");
        }
        await output.WriteLineAsync(canLogIn
            ? $"login: {created.Customer.Email} with the password given on standard input"
            : "no password: this customer cannot log in (give one with --password-stdin when creating)");
        return 0;
    }
}
