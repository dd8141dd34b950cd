using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bulwark.Cli.Tests.Chain;

/// <summary>
/// Customer traffic through the public edges, as the 2017 chain test needs it: the demo
/// customers who can log in pay each other (each payment with its own Idempotency-Key) and read
/// their balances, round robin over every edge, at a fixed rate. Every payment's outcome is
/// recorded as a history: acknowledged (2xx), refused (4xx: a definite no) or unknown (5xx,
/// timeout, connection error). At the end <see cref="ResolveUnknownAsync"/> asks again for every
/// unknown payment with the same key — idempotency turns each into a definite answer — so that
/// balances can be checked against the history exactly: an acknowledged payment lost, or one
/// applied twice, shows as a difference.
/// </summary>
internal sealed class EdgePaymentLoad : IAsyncDisposable
{
    /// <summary>Deadline of one request: the edge's own deadlines are shorter.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Asks per unknown payment at the end, one second apart.</summary>
    private const int ResolveAttemptsMax = 60;

    private readonly IReadOnlyList<Uri> _edges;
    private readonly IReadOnlyList<Customer> _customers;
    private readonly HttpClient _http = new() { Timeout = RequestTimeout };
    private readonly ConcurrentQueue<Payment> _payments = new();
    private readonly ConcurrentQueue<(TimeSpan At, string Outcome)> _failures = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private Task? _loop;
    private long _reads;
    private long _readsFailed;

    public sealed record Customer(string Email, string Password, string AccountId, string SortCode, string AccountNumber)
    {
        public string? Token { get; set; }
    }

    public sealed class Payment(string key, Customer from, Customer to, long amount, int edge)
    {
        public string Key { get; } = key;

        public Customer From { get; } = from;

        public Customer To { get; } = to;

        public long Amount { get; } = amount;

        public int Edge { get; } = edge;

        /// <summary>"ok", "refused" or "unknown".</summary>
        public string Outcome { get; set; } = "unknown";

        public int Attempts { get; set; }
    }

    /// <summary>Tries of one setup request before the test gives up on it.</summary>
    private const int SetupAttemptsMax = 8;

    private static async Task<HttpResponseMessage> SetupRequestAsync(HttpClient http, Func<HttpRequestMessage> create, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var request = create();
            HttpResponseMessage? response = null;
            try
            {
                response = await http.SendAsync(request, cancellationToken);
            }
            catch (Exception error) when (attempt < SetupAttemptsMax && !cancellationToken.IsCancellationRequested
                && error is HttpRequestException or TaskCanceledException)
            {
            }
            if (response is not null)
            {
                if (response.IsSuccessStatusCode || attempt == SetupAttemptsMax
                    || response.StatusCode is not (HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout))
                {
                    return response.EnsureSuccessStatusCode();
                }
                response.Dispose();
            }
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt * 2, 10)), cancellationToken);
        }
    }

    private EdgePaymentLoad(IReadOnlyList<Uri> edges, IReadOnlyList<Customer> customers)
    {
        _edges = edges;
        _customers = customers;
    }

    public IReadOnlyCollection<Payment> Payments => _payments;

    public long Reads => Interlocked.Read(ref _reads);

    public long ReadsFailed => Interlocked.Read(ref _readsFailed);

    /// <summary>Failed requests with when (since start) and what; for the report.</summary>
    public IReadOnlyCollection<(TimeSpan At, string Outcome)> Failures => _failures;

    /// <summary>
    /// Logs in every customer through the first edge and reads their current accounts. A 502, 503 or
    /// 504 (the edge says retrying is safe) or a timed-out request is asked again, as the app does,
    /// up to <see cref="SetupAttemptsMax"/> times: on a loaded machine the bank's first logins have
    /// outrun the edge's deadline, and this is setup, not the chain under test.
    /// </summary>
    public static async Task<EdgePaymentLoad> LoginAsync(IReadOnlyList<Uri> edges, IEnumerable<(string Email, string Password)> logins, CancellationToken cancellationToken)
    {
        var customers = new List<Customer>();
        using var http = new HttpClient { Timeout = RequestTimeout, BaseAddress = edges[0] };
        foreach (var (email, password) in logins)
        {
            using var login = await SetupRequestAsync(http, () => new HttpRequestMessage(HttpMethod.Post, "/api/login")
            {
                Content = JsonContent.Create(new { email, password }),
            }, cancellationToken);
            using var token = JsonDocument.Parse(await login.Content.ReadAsStringAsync(cancellationToken));
            var bearer = token.RootElement.GetProperty("token").GetString()!;
            using var response = await SetupRequestAsync(http, () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, "/api/accounts");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
                return request;
            }, cancellationToken);
            using var accounts = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            var account = accounts.RootElement.GetProperty("accounts")[0];
            customers.Add(new Customer(email, password, account.GetProperty("accountId").GetString()!,
                account.GetProperty("sortCode").GetString()!, account.GetProperty("accountNumber").GetString()!)
            { Token = bearer });
        }
        return new EdgePaymentLoad(edges, customers);
    }

    /// <summary>Settled balance of every customer, read through the first edge that answers.</summary>
    public async Task<Dictionary<string, long>> BalancesAsync(CancellationToken cancellationToken)
    {
        var balances = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var customer in _customers)
        {
            for (var attempt = 0; ; attempt++)
            {
                var edge = _edges[attempt % _edges.Count];
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(edge, $"/api/accounts/{customer.AccountId}/balance"));
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", customer.Token);
                try
                {
                    using var response = await _http.SendAsync(request, cancellationToken);
                    if (response.IsSuccessStatusCode)
                    {
                        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
                        balances[customer.AccountId] = body.RootElement.GetProperty("settled").GetInt64();
                        break;
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && attempt < 30)
                {
                    // Tried again below.
                }
                if (attempt >= 30)
                {
                    throw new InvalidOperationException($"no edge answered the balance of {customer.Email}");
                }
                await Task.Delay(1000, cancellationToken);
            }
        }
        return balances;
    }

    /// <summary>Starts paying and reading at <paramref name="paymentsPerSecond"/> (and as many reads), until <see cref="StopAsync"/>.</summary>
    public void Start(int paymentsPerSecond)
    {
        _loop = Task.Run(async () =>
        {
            var random = new Random(17);
            var interval = TimeSpan.FromSeconds(1.0 / paymentsPerSecond);
            var inFlight = new List<Task>();
            var number = 0;
            using var timer = new PeriodicTimer(interval);
            while (await WaitAsync(timer))
            {
                inFlight.RemoveAll(task => task.IsCompleted);
                if (inFlight.Count > 200)
                {
                    continue; // Bounded: a dead bank must not pile up requests without end.
                }
                var from = _customers[random.Next(_customers.Count)];
                var to = _customers.Where(c => c != from).ElementAt(random.Next(_customers.Count - 1));
                var payment = new Payment(Guid.NewGuid().ToString("N"), from, to, 1 + random.Next(99), number++ % _edges.Count);
                _payments.Enqueue(payment);
                inFlight.Add(PayAsync(payment, CancellationToken.None));
                inFlight.Add(ReadAsync(from, payment.Edge));
            }
            await Task.WhenAll(inFlight);
        });
    }

    private async Task<bool> WaitAsync(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }
    }

    /// <summary>Asks again, with the same key, for every payment whose outcome is unknown, until each has a definite answer.</summary>
    public async Task ResolveUnknownAsync(CancellationToken cancellationToken)
    {
        foreach (var payment in _payments.Where(p => p.Outcome == "unknown"))
        {
            for (var attempt = 0; attempt < ResolveAttemptsMax && payment.Outcome == "unknown"; attempt++)
            {
                await PayAsync(payment, cancellationToken, resolving: true);
                if (payment.Outcome == "unknown")
                {
                    await Task.Delay(1000, cancellationToken);
                }
            }
        }
    }

    /// <summary>The longest time between successful payments (reads excluded).</summary>
    public TimeSpan LongestPaymentGap { get; private set; }

    private TimeSpan _lastPaymentSuccess = TimeSpan.MinValue;
    private readonly Lock _gapLock = new();

    private async Task PayAsync(Payment payment, CancellationToken cancellationToken, bool resolving = false)
    {
        var edge = _edges[(payment.Edge + payment.Attempts) % _edges.Count];
        payment.Attempts++;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(edge, "/api/payments"))
        {
            Content = JsonContent.Create(new
            {
                fromAccountId = payment.From.AccountId,
                toSortCode = payment.To.SortCode,
                toAccountNumber = payment.To.AccountNumber,
                amount = payment.Amount,
                currency = "GBP",
                reference = $"chain {payment.Key[..8]}",
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", payment.From.Token);
        request.Headers.Add("Idempotency-Key", payment.Key);
        string outcome;
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            outcome = response.IsSuccessStatusCode ? "ok"
                : (int)response.StatusCode is >= 400 and < 500 && response.StatusCode != HttpStatusCode.TooManyRequests && response.StatusCode != HttpStatusCode.RequestTimeout ? "refused"
                : $"unknown ({(int)response.StatusCode})";
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            outcome = $"unknown ({exception.GetType().Name})";
        }
        if (outcome == "ok")
        {
            var now = _clock.Elapsed;
            lock (_gapLock)
            {
                if (_lastPaymentSuccess != TimeSpan.MinValue && !resolving && now - _lastPaymentSuccess > LongestPaymentGap)
                {
                    LongestPaymentGap = now - _lastPaymentSuccess;
                }
                _lastPaymentSuccess = resolving ? _lastPaymentSuccess : now;
            }
        }
        else
        {
            _failures.Enqueue((_clock.Elapsed, $"payment via {edge.Authority}: {outcome}"));
        }
        payment.Outcome = outcome.StartsWith("unknown", StringComparison.Ordinal) ? "unknown" : outcome;
    }

    private async Task ReadAsync(Customer customer, int edgeIndex)
    {
        var edge = _edges[edgeIndex % _edges.Count];
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(edge, $"/api/accounts/{customer.AccountId}/balance"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", customer.Token);
        Interlocked.Increment(ref _reads);
        try
        {
            using var response = await _http.SendAsync(request);
            if (response.IsSuccessStatusCode)
            {
                return;
            }
            _failures.Enqueue((_clock.Elapsed, $"read via {edge.Authority}: {(int)response.StatusCode}"));
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            _failures.Enqueue((_clock.Elapsed, $"read via {edge.Authority}: {exception.GetType().Name}"));
        }
        Interlocked.Increment(ref _readsFailed);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
        _http.Dispose();
    }
}
