using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Bulwark.Platform.Placement;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>A customer of a test cluster: how they log in, their account's address, and the cell it lives in.</summary>
internal sealed record ClusterCustomer(string Email, string SortCode, string AccountNumber, UInt128 LedgerAccount, string Cell);

/// <summary>
/// Customers of a running local cluster, made and read the way an operator and a customer do: the
/// operator CLI (<c>customers create|show --state</c>) and the edge's app API.
/// </summary>
internal sealed class ClusterCustomers(string stateDirectory, string password)
{
    /// <summary>Customers made at most while looking for one in each cell (each lands in a cell with even odds: 12 all in one of two cells is 1 in 2,048).</summary>
    private const int CustomersMax = 12;

    /// <summary>Customers with an opening balance, made until one has its account in each of <paramref name="cells"/>.</summary>
    public async Task<IReadOnlyDictionary<string, ClusterCustomer>> InEachCellAsync(PlacementMap map, IReadOnlyCollection<string> cells, string openingBalance)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(cells);
        var found = new Dictionary<string, ClusterCustomer>(StringComparer.Ordinal);
        for (var index = 0; index < CustomersMax && !cells.All(found.ContainsKey); index++)
        {
            var email = $"cells{index}@example.com";
            var created = await RunWithInputAsync(password + "\n", "customers", "create", "--name", $"Cells {index}", "--email", email,
                "--password-stdin", "--opening-balance", openingBalance, "--json", "--state", stateDirectory);
            Assert.True(created.ExitCode == 0, created.Output + created.Error);
            using var json = JsonDocument.Parse(created.Output);
            var account = json.RootElement.GetProperty("account");
            var ledgerAccount = UInt128.Parse(account.GetProperty("ledgerAccountId").GetString()!, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var cell = map.CellOf(Bulwark.Ledger.LedgerPartitioner.PartitionOf(ledgerAccount, map.PartitionCount));
            found.TryAdd(cell, new ClusterCustomer(email, account.GetProperty("sortCode").GetString()!, account.GetProperty("accountNumber").GetString()!, ledgerAccount, cell));
        }
        Assert.True(cells.All(found.ContainsKey), $"{CustomersMax} customers, only in cell(s) {string.Join(", ", found.Keys)}");
        return found;
    }

    /// <summary>Logs <paramref name="customer"/> in at the edge: the client then carries their token; returns their current account's id.</summary>
    public async Task<string> LogInAsync(HttpClient http, ClusterCustomer customer)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(customer);
        var login = await http.PostAsJsonAsync("api/login", new { email = customer.Email, password });
        Assert.True(login.IsSuccessStatusCode, await login.Content.ReadAsStringAsync());
        using var token = JsonDocument.Parse(await login.Content.ReadAsStringAsync());
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.RootElement.GetProperty("token").GetString());
        using var accounts = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/accounts", UriKind.Relative)));
        return accounts.RootElement.GetProperty("accounts")[0].GetProperty("accountId").GetString()!;
    }

    /// <summary>One payment through the app API, sent with <paramref name="idempotencyKey"/> (the same key again is the same payment).</summary>
    public static async Task<HttpResponseMessage> PayAsync(HttpClient http, string fromAccountId, ClusterCustomer payee, long amount, string idempotencyKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(payee);
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/payments")
        {
            Content = JsonContent.Create(new { fromAccountId, toSortCode = payee.SortCode, toAccountNumber = payee.AccountNumber, amount, currency = "GBP", reference = "across cells" }),
        };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return await http.SendAsync(request, cancellationToken);
    }

    /// <summary>The settled balance of the customer's current account, read through the operator CLI (the router, as every client).</summary>
    public async Task<long> SettledAsync(string email)
    {
        var show = await RunAsync("customers", "show", email, "--json", "--state", stateDirectory);
        Assert.True(show.ExitCode == 0, show.Output + show.Error);
        using var json = JsonDocument.Parse(show.Output);
        return json.RootElement.GetProperty("accounts")[0].GetProperty("balance").GetProperty("settled").GetInt64();
    }

    /// <summary>Asks for the settled balance until it is <paramref name="expected"/> (a credit leg reaches another cell soon after the answer), bounded; returns the last seen.</summary>
    public async Task<long> SettledOnceAsync(string email, long expected, TimeSpan bound)
    {
        var balance = await SettledAsync(email);
        using var within = new CancellationTokenSource(bound);
        while (balance != expected && !within.IsCancellationRequested)
        {
            await Task.Delay(200, CancellationToken.None);
            balance = await SettledAsync(email);
        }
        return balance;
    }

    /// <summary>The cluster's etcd address, as <c>serve --registry</c> takes it.</summary>
    public string Registry()
    {
        using var state = State(stateDirectory);
        return "etcd://" + string.Join(',', state.RootElement.GetProperty("members").EnumerateArray()
            .Select(member => "127.0.0.1:" + member.GetProperty("clientPort").GetInt32().ToString(CultureInfo.InvariantCulture)));
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunWithInputAsync(string input, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "bulwark.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Operator commands act as the bank's demo staff member (OperatorStaff).
        foreach (var (name, value) in await OperatorStaff.EnvironmentAsync(null, args) ?? [])
        {
            start.Environment[name] = value;
        }
        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("could not start bulwark");
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        using var bound = new CancellationTokenSource(Bound);
        var output = process.StandardOutput.ReadToEndAsync(bound.Token);
        var error = process.StandardError.ReadToEndAsync(bound.Token);
        await process.WaitForExitAsync(bound.Token);
        return (process.ExitCode, await output, await error);
    }
}
