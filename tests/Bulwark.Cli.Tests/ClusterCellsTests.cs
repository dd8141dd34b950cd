using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Bulwark.Ledger;
using Bulwark.Platform.Placement;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>
/// The cluster's ledger on cells (docs/internals/cells.md, "Cells in a cluster"): <c>cluster up
/// --cells 2</c> on the cluster's own PostgreSQL (real etcd, real PostgreSQL, each cell its own
/// database and process), customers whose accounts are in different cells paying each other
/// through the edge, <c>ledger check --state</c> across the cells, <c>cluster status</c> showing
/// them, and <c>serve --cell</c> refusing a cell the map does not have. One small cluster (one etcd
/// member, no feed, no card processor) keeps it short.
/// </summary>
public sealed partial class ClusterCellsTests : IDisposable
{
    private const string Password = "cells-test-password";
    private const long OpeningBalance = 10_000;
    private const long Paid = 1_234;

    /// <summary>Customers made at most while looking for one in each cell (each lands in a cell with even odds: 12 all in one cell is 1 in 2,048).</summary>
    private const int CustomersMax = 12;

    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(1);

    private readonly string _state = Path.Combine(Path.GetTempPath(), "bulwark-cells-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        // Whatever happened, nothing this test started keeps running: down stops by the PIDs in the state.
        if (File.Exists(Path.Combine(_state, "cluster.json")))
        {
            RunAsync("cluster", "down", "--state", _state).GetAwaiter().GetResult();
        }
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    [Fact]
    public async Task ClusterOnTwoCells_CustomersInDifferentCellsPayEachOther_CheckedAcrossCells_UnknownCellRefused()
    {
        var up = await RunAsync("cluster", "up", "--state", _state, "--etcd-members", "1", "--cells", "2", "--store", "postgres",
            "--replicas", "feed=0,cards=0,edge=1", "--edge-port", "0");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        Assert.Contains("placement: 2 ledger cell(s) (a: 128 partitions, b: 128 partitions)", up.Output, StringComparison.Ordinal);
        Assert.Matches(@"ledger: 2 instance\(s\) healthy \(cell a 127\.0\.0\.1:\d+, cell b 127\.0\.0\.1:\d+\)", up.Output);
        var map = PlacementMapCodec.Decode(await File.ReadAllBytesAsync(Path.Combine(_state, "placement.json")));
        var edge = new Uri(EdgeLine().Match(up.Output).Groups[1].Value);

        var (payer, payee) = await CustomersInEachCellAsync(map);
        using var http = new HttpClient { BaseAddress = edge };
        var payment = await PayAsync(http, payer, payee);
        Assert.True(payment.IsSuccessStatusCode, await payment.Content.ReadAsStringAsync());

        // The debit leg is answered in the payer's cell; the credit leg reaches the payee's cell
        // with the answer or soon after (it is durable either way): asked until it shows, bounded.
        Assert.Equal(OpeningBalance - Paid, await SettledAsync(payer.Email));
        var payeeBalance = await SettledAsync(payee.Email);
        using (var bound = new CancellationTokenSource(Bound))
        {
            while (payeeBalance != OpeningBalance + Paid && !bound.IsCancellationRequested)
            {
                await Task.Delay(200, CancellationToken.None);
                payeeBalance = await SettledAsync(payee.Email);
            }
        }
        Assert.Equal(OpeningBalance + Paid, payeeBalance);

        var check = await RunAsync("ledger", "check", "--state", _state);
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.Contains("sum 0; 2 cells", check.Output, StringComparison.Ordinal);

        var status = await RunAsync("cluster", "status", "--state", _state);
        Assert.Matches(@"cells: 2, placement map version 1, 256 partitions", status.Output);
        Assert.Matches(@"\n  a +128 +ledger-\d+ SERVING", status.Output);
        Assert.Matches(@"\n  b +128 +ledger-\d+ SERVING", status.Output);

        var registry = Registry();
        var unknown = await RunAsync("serve", "--service", "ledger", "--cell", "zz", "--registry", registry, "--data", Path.Combine(_state, "stray"));
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("bulwark serve: ledger-zz cannot start: cell 'zz' is not in the placement map (version 1): its cells are a, b.", unknown.Error, StringComparison.Ordinal);
    }

    private sealed record Customer(string Email, string SortCode, string AccountNumber, string Cell);

    /// <summary>Customers with an opening balance, made until one has its account in cell a and one in cell b.</summary>
    private async Task<(Customer InA, Customer InB)> CustomersInEachCellAsync(PlacementMap map)
    {
        var found = new Dictionary<string, Customer>(StringComparer.Ordinal);
        for (var index = 0; index < CustomersMax && found.Count < 2; index++)
        {
            var email = $"cells{index}@example.com";
            var created = await RunWithInputAsync(Password + "\n", "customers", "create", "--name", $"Cells {index}", "--email", email,
                "--password-stdin", "--opening-balance", "100.00", "--json", "--state", _state);
            Assert.True(created.ExitCode == 0, created.Output + created.Error);
            using var json = JsonDocument.Parse(created.Output);
            var account = json.RootElement.GetProperty("account");
            var ledgerAccount = UInt128.Parse(account.GetProperty("ledgerAccountId").GetString()!, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var cell = map.CellOf(Bulwark.Ledger.LedgerPartitioner.PartitionOf(ledgerAccount, map.PartitionCount));
            found.TryAdd(cell, new Customer(email, account.GetProperty("sortCode").GetString()!, account.GetProperty("accountNumber").GetString()!, cell));
        }
        Assert.True(found.Count == 2, $"{CustomersMax} customers, all in cell {string.Join(", ", found.Keys)}");
        return (found["a"], found["b"]);
    }

    private static async Task<HttpResponseMessage> PayAsync(HttpClient http, Customer payer, Customer payee)
    {
        var login = await http.PostAsJsonAsync("api/login", new { email = payer.Email, password = Password });
        Assert.True(login.IsSuccessStatusCode, await login.Content.ReadAsStringAsync());
        using var token = JsonDocument.Parse(await login.Content.ReadAsStringAsync());
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.RootElement.GetProperty("token").GetString());
        using var accounts = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/accounts", UriKind.Relative)));
        var from = accounts.RootElement.GetProperty("accounts")[0].GetProperty("accountId").GetString();
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/payments")
        {
            Content = JsonContent.Create(new { fromAccountId = from, toSortCode = payee.SortCode, toAccountNumber = payee.AccountNumber, amount = Paid, currency = "GBP", reference = "across cells" }),
        };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("n"));
        return await http.SendAsync(request);
    }

    /// <summary>The settled balance of the customer's current account, read through the operator CLI (the router, as every client).</summary>
    private async Task<long> SettledAsync(string email)
    {
        var show = await RunAsync("customers", "show", email, "--json", "--state", _state);
        Assert.True(show.ExitCode == 0, show.Output + show.Error);
        using var json = JsonDocument.Parse(show.Output);
        return json.RootElement.GetProperty("accounts")[0].GetProperty("balance").GetProperty("settled").GetInt64();
    }

    private string Registry()
    {
        using var state = State(_state);
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
        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("could not start bulwark");
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        using var bound = new CancellationTokenSource(BulwarkProcess.Bound);
        var output = process.StandardOutput.ReadToEndAsync(bound.Token);
        var error = process.StandardError.ReadToEndAsync(bound.Token);
        await process.WaitForExitAsync(bound.Token);
        return (process.ExitCode, await output, await error);
    }

    [GeneratedRegex(@"edge \(app API and web UI\) listening on (http://127\.0\.0\.1:\d+/)")]
    private static partial Regex EdgeLine();
}
