using System.Globalization;
using System.Text.Json;
using Bulwark.Support.Protos;
using Bulwark.Support.Security;
using Bulwark.Support.Storage;
using Bulwark.Support.Telemetry;
using Bulwark.Support.Validation;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Support.Grpc;

/// <summary>
/// The staff directory's gRPC contract (support.proto, service StaffDirectory). Every request is
/// validated field by field before anything is read or written; every change to a staff member is
/// written together with its audit entry, in one transaction of the store.
/// </summary>
internal sealed partial class StaffDirectoryGrpcService(
    ISupportStore store,
    StaffPasswords passwords,
    TotpKeyRing keys,
    StaffTotp totp,
    StaffActors actors,
    SupportMetrics metrics,
    TimeProvider time,
    ILogger<StaffDirectoryGrpcService> logger) : StaffDirectory.StaffDirectoryBase
{
    private static readonly LockPolicy Locks = new(SupportLimits.AuthenticationFailuresBeforeLock, SupportLimits.LockSecondsFirst, SupportLimits.LockSecondsMax);

    private long NowUnixMs() => time.GetUtcNow().ToUnixTimeMilliseconds();

    public override async Task<CreateStaffResponse> CreateStaff(CreateStaffRequest request, ServerCallContext context)
    {
        var (email, emailNormalised) = RequestFields.Email(request.Email, "email");
        var name = RequestFields.Text(request.Name, "name", SupportLimits.NameLengthMax, required: true);
        var roles = RequestFields.Roles(request.Roles, "roles");
        var password = RequestFields.Password(request.Password, "password");
        var reason = RequestFields.Text(request.Reason, "reason", SupportLimits.ReasonLengthMax, required: false);
        var source = RequestFields.SourceAddress(request.SourceAddress, "source_address");
        var cancellationToken = context.CancellationToken;
        var actor = await actors.AdministratorAsync(request.ActorStaffId, cancellationToken);
        if (await store.FindStaffByEmailAsync(emailNormalised, cancellationToken) is not null)
        {
            throw SupportErrors.AlreadyExists("A staff member with this email already exists.");
        }
        var hash = await HashingAsync(() => passwords.Hash(password), cancellationToken);
        var now = NowUnixMs();
        var staffId = Guid.CreateVersion7(time.GetUtcNow()).ToString("D");
        var secret = StaffTotp.NewSecret();
        var staff = new StaffRecord(staffId, email, emailNormalised, name, roles, now, hash, keys.Encrypt(staffId, secret));
        var details = JsonSerializer.Serialize(new Dictionary<string, object> { ["email"] = email, ["name"] = name, ["roles"] = roles });
        var audit = new AuditDraft(now, actor, "staff.created", staffId, reason.Length > 0 ? reason : "new staff member", details, source);
        var (outcome, entry) = await store.CreateStaffAsync(staff, audit, cancellationToken);
        if (outcome == CreateStaffOutcome.EmailTaken)
        {
            throw SupportErrors.AlreadyExists("A staff member with this email already exists.");
        }
        metrics.RecordAuditAppend(audit.Action);
        LogStaffCreated(staffId, string.Join(',', roles), actor);
        var (secretBase32, uri) = totp.Enrolment(secret, email);
        return new CreateStaffResponse
        {
            Staff = SupportViews.ToProto(staff, now),
            Totp = new TotpEnrolment { SecretBase32 = secretBase32, OtpauthUri = uri },
            Audit = SupportViews.ToProto(entry!),
        };
    }

    public override async Task<AuthenticateStaffResponse> AuthenticateStaff(AuthenticateStaffRequest request, ServerCallContext context)
    {
        var (_, emailNormalised) = RequestFields.Email(request.Email, "email");
        if (request.Password.Length is 0 or > SupportLimits.PasswordLengthMax)
        {
            throw SupportErrors.Invalid("password", string.Create(CultureInfo.InvariantCulture, $"must be 1 to {SupportLimits.PasswordLengthMax} characters"));
        }
        var code = RequestFields.TotpCode(request.TotpCode, "totp_code");
        var source = RequestFields.SourceAddress(request.SourceAddress, "source_address");
        var cancellationToken = context.CancellationToken;
        var staff = await store.FindStaffByEmailAsync(emailNormalised, cancellationToken);
        var now = NowUnixMs();
        if (staff is not null && staff.LockedUntilUnixMs > now)
        {
            // Locked: nothing is checked (a right guess must not be learnt while locked).
            metrics.RecordAuthenticationFailure("locked");
            throw SupportErrors.Locked(staff.LockedUntilUnixMs, now);
        }
        // An unknown email hashes once too, and answers exactly as a wrong password does.
        var passwordRight = await HashingAsync(() => passwords.Verify(request.Password, staff?.Password), cancellationToken);
        if (staff is null)
        {
            metrics.RecordAuthenticationFailure("unknown_email");
            return new AuthenticateStaffResponse { Authenticated = false };
        }
        var failure = !passwordRight ? "password" : staff.Disabled ? "disabled" : null;
        long step = 0;
        if (failure is null)
        {
            if (!TryDecrypt(staff, out var secret))
            {
                // Not the staff member's failure: no lock counted; fixed by the key file or a reset.
                metrics.RecordAuthenticationFailure("totp_key");
                return new AuthenticateStaffResponse { Authenticated = false };
            }
            var matched = totp.Verify(secret, code);
            failure = matched is null ? "totp" : matched <= staff.TotpLastStep ? "replay" : null;
            step = matched ?? 0;
        }
        if (failure is null)
        {
            var audit = new AuditDraft(now, staff.StaffId, "staff.authenticated", staff.StaffId, "login", "{}", source);
            if (await store.RecordAuthenticationAsync(staff.StaffId, step, audit, cancellationToken))
            {
                metrics.RecordAuditAppend(audit.Action);
                return new AuthenticateStaffResponse
                {
                    Authenticated = true,
                    StaffId = staff.StaffId,
                    Name = staff.Name,
                    Roles = { staff.Roles.Select(RequestFields.RoleOf) },
                };
            }
            // Another request with the same code got there first.
            failure = "replay";
        }
        return await FailedAsync(staff, failure, now, source, cancellationToken);
    }

    /// <summary>Counts the failure; a failure that locks answers the lock, any other "not authenticated" (which factor is never said).</summary>
    private async Task<AuthenticateStaffResponse> FailedAsync(StaffRecord staff, string reason, long now, string source, CancellationToken cancellationToken)
    {
        metrics.RecordAuthenticationFailure(reason);
        LogAuthenticationFailed(staff.StaffId, reason);
        if (staff.Disabled)
        {
            // A disabled staff member never authenticates again: no lock needed, none recorded.
            return new AuthenticateStaffResponse { Authenticated = false };
        }
        var outcome = await store.RecordFailureAsync(staff.StaffId, now, Locks, lockedUntil => new AuditDraft(now, RequestFields.SystemActor, "staff.locked", staff.StaffId,
            string.Create(CultureInfo.InvariantCulture, $"{SupportLimits.AuthenticationFailuresBeforeLock} failed logins in a row"),
            JsonSerializer.Serialize(new Dictionary<string, long> { ["lockedUntilUnixMs"] = lockedUntil }), source), cancellationToken);
        if (outcome is { LockedNow: true })
        {
            metrics.RecordLock();
            metrics.RecordAuditAppend("staff.locked");
            LogLocked(staff.StaffId, outcome.Locks, DateTimeOffset.FromUnixTimeMilliseconds(outcome.LockedUntilUnixMs));
            throw SupportErrors.Locked(outcome.LockedUntilUnixMs, now);
        }
        return new AuthenticateStaffResponse { Authenticated = false };
    }

    public override async Task<ListStaffResponse> ListStaff(ListStaffRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > SupportLimits.ListStaffLimitMax)
        {
            throw SupportErrors.Invalid("limit", string.Create(CultureInfo.InvariantCulture,
                $"must be 0 (default {SupportLimits.ListStaffLimitDefault}) to {SupportLimits.ListStaffLimitMax}, not {request.Limit}"));
        }
        var after = request.Cursor.Length == 0 ? null : RequestFields.Id(request.Cursor, "cursor");
        var limit = request.Limit == 0 ? SupportLimits.ListStaffLimitDefault : request.Limit;
        // One more than asked tells whether another page follows without a second query.
        var staff = await store.ListStaffAsync(after, limit + 1, context.CancellationToken);
        var now = NowUnixMs();
        var response = new ListStaffResponse();
        response.Staff.Add(staff.Take(limit).Select(member => SupportViews.ToProto(member, now)));
        if (staff.Count > limit)
        {
            response.NextCursor = staff[limit - 1].StaffId;
        }
        return response;
    }

    public override async Task<Staff> GetStaff(GetStaffRequest request, ServerCallContext context)
    {
        var staffId = RequestFields.Id(request.StaffId, "staff_id");
        var staff = await store.GetStaffAsync(staffId, context.CancellationToken) ?? throw SupportErrors.NotFound($"There is no staff member {staffId}.");
        return SupportViews.ToProto(staff, NowUnixMs());
    }

    public override async Task<Staff> DisableStaff(DisableStaffRequest request, ServerCallContext context)
    {
        var staffId = RequestFields.Id(request.StaffId, "staff_id");
        var reason = RequestFields.Text(request.Reason, "reason", SupportLimits.ReasonLengthMax, required: true);
        var source = RequestFields.SourceAddress(request.SourceAddress, "source_address");
        var cancellationToken = context.CancellationToken;
        var actor = await actors.AdministratorAsync(request.ActorStaffId, cancellationToken);
        var now = NowUnixMs();
        var audit = new AuditDraft(now, actor, "staff.disabled", staffId, reason, "{}", source);
        var (staff, entry) = await store.DisableStaffAsync(staffId, reason, now, audit, cancellationToken);
        if (staff is null)
        {
            throw SupportErrors.NotFound($"There is no staff member {staffId}.");
        }
        if (entry is not null)
        {
            metrics.RecordAuditAppend(audit.Action);
            LogStaffDisabled(staffId, actor);
        }
        return SupportViews.ToProto(staff, now);
    }

    public override async Task<ResetTotpResponse> ResetTotp(ResetTotpRequest request, ServerCallContext context)
    {
        var staffId = RequestFields.Id(request.StaffId, "staff_id");
        var reason = RequestFields.Text(request.Reason, "reason", SupportLimits.ReasonLengthMax, required: true);
        var source = RequestFields.SourceAddress(request.SourceAddress, "source_address");
        var cancellationToken = context.CancellationToken;
        var actor = await actors.AdministratorAsync(request.ActorStaffId, cancellationToken);
        var existing = await store.GetStaffAsync(staffId, cancellationToken) ?? throw SupportErrors.NotFound($"There is no staff member {staffId}.");
        if (existing.Disabled)
        {
            throw SupportErrors.FailedPrecondition($"Staff member {staffId} is disabled: a disabled staff member gets no new second factor.");
        }
        var secret = StaffTotp.NewSecret();
        var now = NowUnixMs();
        var audit = new AuditDraft(now, actor, "staff.totp_reset", staffId, reason, "{}", source);
        var (staff, entry) = await store.ResetTotpAsync(staffId, keys.Encrypt(staffId, secret), audit, cancellationToken);
        if (staff is null || entry is null)
        {
            throw SupportErrors.NotFound($"There is no staff member {staffId}.");
        }
        metrics.RecordAuditAppend(audit.Action);
        LogTotpReset(staffId, actor);
        var (secretBase32, uri) = totp.Enrolment(secret, staff.Email);
        return new ResetTotpResponse
        {
            Staff = SupportViews.ToProto(staff, now),
            Totp = new TotpEnrolment { SecretBase32 = secretBase32, OtpauthUri = uri },
            Audit = SupportViews.ToProto(entry),
        };
    }

    private bool TryDecrypt(StaffRecord staff, out byte[] secret)
    {
        try
        {
            secret = keys.Decrypt(staff.StaffId, staff.Totp);
            return true;
        }
        catch (Exception error) when (error is InvalidOperationException or System.Security.Cryptography.CryptographicException)
        {
            LogSecretUnreadable(staff.StaffId, staff.Totp.KeyId);
            secret = [];
            return false;
        }
    }

    /// <summary>
    /// Runs a password hash on the hashing threads (never the request's), or answers
    /// RESOURCE_EXHAUSTED at once when too many are waiting.
    /// </summary>
    private Task<T> HashingAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        if (passwords.Queue.TryRun(work, cancellationToken, out var task))
        {
            return task;
        }
        metrics.RecordPasswordHashingRejected();
        throw SupportErrors.ResourceExhausted("Too many logins are waiting for a password check; try again in a second.");
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Created staff member {StaffId} with roles {Roles} (by {Actor})")]
    private partial void LogStaffCreated(string staffId, string roles, string actor);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Staff login failed for {StaffId}: {Reason}")]
    private partial void LogAuthenticationFailed(string staffId, string reason);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "Locked staff member {StaffId} after failed logins (lock {Locks} in a row) until {LockedUntil:O}")]
    private partial void LogLocked(string staffId, int locks, DateTimeOffset lockedUntil);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Error, Message = "Staff member {StaffId}'s TOTP secret (key id {KeyId}) does not decrypt with the TOTP key file: they cannot log in until it is restored or their second factor reset")]
    private partial void LogSecretUnreadable(string staffId, int keyId);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Disabled staff member {StaffId} (by {Actor})")]
    private partial void LogStaffDisabled(string staffId, string actor);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "Reset the TOTP secret of staff member {StaffId} (by {Actor})")]
    private partial void LogTotpReset(string staffId, string actor);
}
