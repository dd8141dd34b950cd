using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Bulwark.Accounts.Protos;
using Bulwark.Coherence.Synthetic;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;

namespace Bulwark.Coherence.Checking;

/// <summary>
/// <c>app_read</c>: reads a write the ledger acknowledged through the app API, as a customer does —
/// log in at the edge, list the accounts (with their balances), read the account's feed. The reader
/// is the partition's synthetic customer (one per probe account, so that every partition, in whichever
/// cell it is, is covered): a real customer record marked synthetic, whose one current account is the
/// probe. Its password is random, made when this object is (process start), held in memory only and
/// set through the accounts service's <c>EnsureSyntheticCustomer</c>, which stores its hash as every
/// customer's. A session (token) is kept per probe until shortly before it expires.
/// </summary>
internal sealed class AppReadCheck
{
    /// <summary>A logged-in synthetic customer: the current account (the probe) and the token for it.</summary>
    private sealed record Session(string AccountId, string Token, DateTimeOffset ExpiresAt);

    private const string PasswordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private readonly AccountsClient _accounts;
    private readonly HttpClient _http;
    private readonly Func<IReadOnlyList<Uri>> _edges;
    private readonly TimeProvider _time;
    private readonly string _password = RandomNumberGenerator.GetString(PasswordAlphabet, CoherenceLimits.SyntheticPasswordLength);
    private readonly ConcurrentDictionary<UInt128, Session> _sessions = new();
    private int _nextEdge;

    /// <param name="edges">The app API's base addresses, as customers reach it (read at each check: a host's own public endpoint is known only once it has started).</param>
    public AppReadCheck(AccountsClient accounts, HttpClient http, Func<IReadOnlyList<Uri>> edges, TimeProvider time)
    {
        _accounts = accounts;
        _http = http;
        _edges = edges;
        _time = time;
    }

    /// <summary>True when an app API address is known: otherwise the check is not made.</summary>
    public bool Enabled => _edges().Count > 0;

    /// <summary>
    /// Whether the app API shows <paramref name="transferId"/> (acknowledged into <paramref name="probe"/>)
    /// to the probe's synthetic customer. Throws <see cref="AppApiException"/>, <see cref="HttpRequestException"/>
    /// or an RpcException when the check could not be made.
    /// </summary>
    public async Task<(string Result, string Detail)> ShowsAsync(UInt128 probe, UInt128 transferId, CancellationToken budget)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var session = _sessions.TryGetValue(probe, out var kept) && kept.ExpiresAt - _time.GetUtcNow() > CoherenceLimits.SessionRenewBefore
                    ? kept
                    : await LogInAsync(probe, budget);
                return await ReadAsync(session, transferId, budget);
            }
            catch (AppApiException error) when (error.Status == HttpStatusCode.Unauthorized && attempt == 0)
            {
                // The token was refused (revoked, or signed with a key the edges no longer hold), or the
                // login was (another checker set the password between ours and the login): once more, from the password.
                _sessions.TryRemove(probe, out _);
            }
        }
    }

    /// <summary>Sets the synthetic customer's password to this process's (creating the customer the first time) and logs it in at the edge.</summary>
    private async Task<Session> LogInAsync(UInt128 probe, CancellationToken budget)
    {
        var probeHex = Hex(probe);
        var ensured = await _accounts.EnsureSyntheticCustomerAsync(new EnsureSyntheticCustomerRequest
        {
            Key = probeHex,
            LedgerAccountId = probeHex,
            Currency = SyntheticAccounts.Currency,
            Password = _password,
        }, cancellationToken: budget);
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, "api/login")
        {
            Content = JsonContent.Create(new LoginRequest(ensured.Customer.Email, _password)),
        }, budget);
        using var body = await ReadJsonAsync(response, "logging in", budget);
        var token = body.RootElement.GetProperty("token").GetString() ?? throw new AppApiException("the login answer has no token", response.StatusCode);
        var expiresAt = body.RootElement.GetProperty("expiresAt").GetDateTimeOffset();
        var session = new Session(ensured.Account.AccountId, token, expiresAt);
        _sessions[probe] = session;
        return session;
    }

    /// <summary>The accounts list (the probe with a balance that holds the write) and the probe's feed (bounded pages).</summary>
    private async Task<(string Result, string Detail)> ReadAsync(Session session, UInt128 transferId, CancellationToken budget)
    {
        using (var accounts = await GetAsync(session, "api/accounts", "listing the accounts", budget))
        {
            var listed = accounts.RootElement.GetProperty("accounts").EnumerateArray()
                .FirstOrDefault(account => account.GetProperty("accountId").GetString() == session.AccountId);
            if (listed.ValueKind == JsonValueKind.Undefined)
            {
                return (CoherenceResult.Missing, "the app API does not list the synthetic customer's account that holds the acknowledged write");
            }
            // The probe is only ever credited: an account holding an acknowledged write has a settled balance of at least one minor unit.
            if (listed.GetProperty("balance").GetProperty("settled").GetInt64() < 1)
            {
                return (CoherenceResult.Missing, "the app API shows the probe account's balance without the acknowledged write");
            }
        }
        var cursor = "";
        var wanted = Hex(transferId);
        for (var page = 0; page < CoherenceLimits.ReadPagesMax; page++)
        {
            var path = string.Create(CultureInfo.InvariantCulture, $"api/accounts/{session.AccountId}/feed?limit={CoherenceLimits.ReadPageSize}")
                + (cursor.Length == 0 ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            using var feed = await GetAsync(session, path, "reading the feed", budget);
            if (feed.RootElement.GetProperty("items").EnumerateArray()
                .Any(item => string.Equals(item.GetProperty("transferId").GetString(), wanted, StringComparison.OrdinalIgnoreCase)))
            {
                return (CoherenceResult.Ok, "seen");
            }
            if (!feed.RootElement.TryGetProperty("nextCursor", out var next) || next.GetString() is not { Length: > 0 } nextCursor)
            {
                return (CoherenceResult.Missing, "the app API answered, and the acknowledged transfer is not in the account's feed");
            }
            cursor = nextCursor;
        }
        return (CoherenceResult.Missing, $"not in the first {CoherenceLimits.ReadPagesMax} pages of the account's feed in the app API");
    }

    private async Task<JsonDocument> GetAsync(Session session, string path, string doing, CancellationToken budget)
    {
        using var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session.Token);
            return request;
        }, budget);
        return await ReadJsonAsync(response, doing, budget);
    }

    /// <summary>Sends to the edges in turn: one that refuses the connection is passed over for the next, as a customer's load balancer does.</summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> make, CancellationToken budget)
    {
        var edges = _edges();
        if (edges.Count == 0)
        {
            throw new AppApiException("no app API address is known", null);
        }
        var first = (int)((uint)Interlocked.Increment(ref _nextEdge) % (uint)edges.Count);
        for (var tried = 0; ; tried++)
        {
            using var request = make();
            request.RequestUri = new Uri(edges[(first + tried) % edges.Count], request.RequestUri!);
            try
            {
                return await _http.SendAsync(request, budget);
            }
            catch (HttpRequestException) when (tried + 1 < edges.Count && !budget.IsCancellationRequested)
            {
            }
        }
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, string doing, CancellationToken budget)
    {
        if (!response.IsSuccessStatusCode)
        {
            var problem = await response.Content.ReadAsStringAsync(budget);
            throw new AppApiException(string.Create(CultureInfo.InvariantCulture,
                $"{doing}: HTTP {(int)response.StatusCode}: {problem[..Math.Min(problem.Length, CoherenceLimits.ProblemDetailLengthMax)]}"), response.StatusCode);
        }
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(budget), cancellationToken: budget);
    }

    private static string Hex(UInt128 value) => value.ToString("x32", CultureInfo.InvariantCulture);

    private sealed record LoginRequest(string Email, string Password);
}

/// <summary>The app API answered with a failure (or could not be reached): the check could not be made.</summary>
internal sealed class AppApiException(string message, HttpStatusCode? status) : Exception(message)
{
    public HttpStatusCode? Status { get; } = status;
}
