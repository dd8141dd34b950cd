using System.Diagnostics.Metrics;
using Bulwark.Platform.Telemetry;
using Grpc.Core;

namespace Bulwark.Accounts.Telemetry;

/// <summary>
/// The accounts service's instruments on meter <see cref="MeterName"/>: every request by method
/// and outcome (the gRPC status), and NOT_FOUND answers on a counter of their own, because a
/// rise in not-found is how a lost or misrouted store shows itself first.
/// </summary>
public sealed class AccountsMetrics : ICallOutcomeRecorder
{
    public const string MeterName = "Bulwark.Accounts";
    public const string RequestsName = "bulwark.accounts.requests";
    public const string NotFoundName = "bulwark.accounts.not_found";
    public const string PasswordRehashesName = "bulwark.accounts.password_rehashes";
    public const string PasswordHashingRejectedName = "bulwark.accounts.password_hashing_rejected";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _notFound;
    private readonly Counter<long> _passwordRehashes;
    private readonly Counter<long> _passwordHashingRejected;

    public AccountsMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>(RequestsName, "{request}", "Accounts requests by method and outcome (gRPC status).");
        _notFound = meter.CreateCounter<long>(NotFoundName, "{request}", "Accounts requests answered NOT_FOUND, by method.");
        _passwordRehashes = meter.CreateCounter<long>(PasswordRehashesName, "{credential}", "Password hashes upgraded to the configured algorithm and iteration count at login.");
        _passwordHashingRejected = meter.CreateCounter<long>(PasswordHashingRejectedName, "{request}",
            "Logins and password changes refused because the password hashing queue was full.");
    }

    public void RecordRequest(string method, StatusCode outcome)
    {
        _requests.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("outcome", outcome.ToString()));
        if (outcome == StatusCode.NotFound)
        {
            _notFound.Add(1, new KeyValuePair<string, object?>("method", method));
        }
    }

    public void RecordPasswordRehash() => _passwordRehashes.Add(1);

    public void RecordPasswordHashingRejected() => _passwordHashingRejected.Add(1);
}
