using System.Diagnostics.Metrics;
using Bulwark.Platform.Telemetry;
using Grpc.Core;

namespace Bulwark.Support.Telemetry;

/// <summary>
/// The support service's instruments on meter <see cref="MeterName"/>: every request by method and
/// outcome, NOT_FOUND on a counter of its own (a rise is how a lost store shows itself first),
/// staff login failures by reason (a surge is someone guessing), and locks.
/// </summary>
public sealed class SupportMetrics : ICallOutcomeRecorder
{
    public const string MeterName = "Bulwark.Support";
    public const string RequestsName = "bulwark.support.requests";
    public const string NotFoundName = "bulwark.support.not_found";
    public const string AuthenticationFailuresName = "bulwark.support.authentication_failures";
    public const string LocksName = "bulwark.support.staff_locks";
    public const string PasswordHashingRejectedName = "bulwark.support.password_hashing_rejected";
    public const string AuditAppendsName = "bulwark.support.audit_appends";
    public const string ChatMessagesName = "bulwark.support.chat_messages";
    public const string ChatWaitsRefusedName = "bulwark.support.chat_waits_refused";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _notFound;
    private readonly Counter<long> _authenticationFailures;
    private readonly Counter<long> _locks;
    private readonly Counter<long> _passwordHashingRejected;
    private readonly Counter<long> _auditAppends;
    private readonly Counter<long> _chatMessages;
    private readonly Counter<long> _chatWaitsRefused;

    public SupportMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>(RequestsName, "{request}", "Support requests by method and outcome (gRPC status).");
        _notFound = meter.CreateCounter<long>(NotFoundName, "{request}", "Support requests answered NOT_FOUND, by method.");
        _authenticationFailures = meter.CreateCounter<long>(AuthenticationFailuresName, "{attempt}",
            "Failed staff logins by reason (unknown_email, password, totp, replay, disabled, locked); the caller is told none of these apart.");
        _locks = meter.CreateCounter<long>(LocksName, "{lock}", "Staff members locked after too many failed logins in a row.");
        _passwordHashingRejected = meter.CreateCounter<long>(PasswordHashingRejectedName, "{request}", "Staff logins and creations refused because the password hashing queue was full.");
        _auditAppends = meter.CreateCounter<long>(AuditAppendsName, "{entry}", "Audit entries appended, by action.");
        _chatMessages = meter.CreateCounter<long>(ChatMessagesName, "{message}", "Chat messages posted, by author (customer, staff); retries that found their first message are not counted.");
        _chatWaitsRefused = meter.CreateCounter<long>(ChatWaitsRefusedName, "{request}", "Chat long-polls refused because too many were waiting in this instance.");
    }

    public void RecordRequest(string method, StatusCode outcome)
    {
        _requests.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("outcome", outcome.ToString()));
        if (outcome == StatusCode.NotFound)
        {
            _notFound.Add(1, new KeyValuePair<string, object?>("method", method));
        }
    }

    public void RecordAuthenticationFailure(string reason) => _authenticationFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void RecordLock() => _locks.Add(1);

    public void RecordPasswordHashingRejected() => _passwordHashingRejected.Add(1);

    public void RecordAuditAppend(string action) => _auditAppends.Add(1, new KeyValuePair<string, object?>("action", action));

    public void RecordChatMessage(string author) => _chatMessages.Add(1, new KeyValuePair<string, object?>("author", author));

    public void RecordChatWaitRefused() => _chatWaitsRefused.Add(1);
}
