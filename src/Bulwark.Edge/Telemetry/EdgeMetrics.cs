using System.Diagnostics.Metrics;

namespace Bulwark.Edge.Telemetry;

/// <summary>
/// The edge's meter. Requests are counted by route template and status class; not-found answers are
/// also counted on their own (a rise in 404s is a symptom worth its own alert, R11); failed service
/// calls are counted by service and gRPC status.
/// </summary>
public sealed class EdgeMetrics
{
    public const string MeterName = "Bulwark.Edge";
    public const string RequestsCounterName = "bulwark.edge.requests";
    public const string NotFoundCounterName = "bulwark.edge.not_found";
    public const string ServiceErrorsCounterName = "bulwark.edge.service_errors";
    public const string LoginFailuresCounterName = "bulwark.edge.login_failures";
    public const string ThrottledCounterName = "bulwark.edge.throttled";
    public const string ShedCounterName = "bulwark.edge.shed";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _notFound;
    private readonly Counter<long> _serviceErrors;
    private readonly Counter<long> _loginFailures;
    private readonly Counter<long> _throttled;
    private readonly Counter<long> _shed;

    public EdgeMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>(RequestsCounterName, "{request}", "App API and web app requests by route and status class.");
        _notFound = meter.CreateCounter<long>(NotFoundCounterName, "{request}", "Requests answered 404 Not Found, by route.");
        _serviceErrors = meter.CreateCounter<long>(ServiceErrorsCounterName, "{call}", "Failed gRPC calls from the edge, by service and status.");
        _loginFailures = meter.CreateCounter<long>(LoginFailuresCounterName, "{login}",
            "Failed logins: wrong email or password (reason invalid_credentials) or refused by a limit (reason throttled).");
        _throttled = meter.CreateCounter<long>(ThrottledCounterName, "{request}",
            "Requests answered 429, by the limit that refused them (source, account, backoff, payee).");
        _shed = meter.CreateCounter<long>(ShedCounterName, "{request}",
            "App API requests answered 503 overloaded, by where the limit was: the edge's own (edge) or a service's (service).");
    }

    internal void RecordRequest(string route, string method, int statusCode)
    {
        var statusClass = statusCode switch
        {
            >= 100 and < 600 => $"{statusCode / 100}xx",
            _ => "other",
        };
        _requests.Add(1,
            new KeyValuePair<string, object?>("http.route", route),
            new KeyValuePair<string, object?>("http.request.method", method),
            new KeyValuePair<string, object?>("status_class", statusClass));
        if (statusCode == 404)
        {
            _notFound.Add(1, new KeyValuePair<string, object?>("http.route", route));
        }
    }

    internal void RecordServiceError(string service, string grpcStatus) =>
        _serviceErrors.Add(1,
            new KeyValuePair<string, object?>("service", service),
            new KeyValuePair<string, object?>("grpc.status", grpcStatus));

    internal void RecordLoginFailure(string reason) =>
        _loginFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    internal void RecordShed(string where) =>
        _shed.Add(1, new KeyValuePair<string, object?>("where", where));

    internal void RecordThrottled(string limit) =>
        _throttled.Add(1, new KeyValuePair<string, object?>("limit", limit));
}
