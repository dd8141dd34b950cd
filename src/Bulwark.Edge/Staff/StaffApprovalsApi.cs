using System.Globalization;
using Bulwark.Accounts.Protos;
using Bulwark.Edge.Api;
using Bulwark.Edge.Problems;
using Bulwark.Edge.Services;
using Bulwark.Support.Protos;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using ApprovalsClient = Bulwark.Support.Protos.Approvals.ApprovalsClient;

namespace Bulwark.Edge.Staff;

internal sealed record ApprovalDto(
    string ApprovalId,
    string Kind,
    string Status,
    string CustomerId,
    string AccountId,
    long Amount,
    string Currency,
    string Reason,
    string OriginalTransferId,
    string MakerStaffId,
    long ProposedAtUnixMs,
    long ExpiresAtUnixMs,
    string CheckerStaffId,
    long DecidedAtUnixMs,
    string DecisionReason,
    string TransferId,
    string FailureReason,
    long ExecutedAtUnixMs);

internal sealed record ApprovalListDto(IReadOnlyList<ApprovalDto> Approvals, string? NextCursor);

/// <summary>
/// Maker-checker on the staff edge (docs/concepts/staff-and-audit.md#approvals): support or
/// operations propose a goodwill credit or refund; another operations member approves or refuses
/// it; on approval the edge executes it (accounts CreditFromBank, whose transfer id is the
/// approval's, so executing twice pays once) and records the outcome in the support service.
/// The support service audits every change itself, so nothing here writes to IStaffAuditLog.
/// </summary>
internal sealed partial class StaffApprovalsApi(ApprovalsClient approvals, AccountsClient accounts, StaffEdgeOptions options, ILogger<StaffApprovalsApi> logger)
{
    public const string Service = "support";

    /// <summary>The support service's trailer naming the rule a FAILED_PRECONDITION broke.</summary>
    private const string RuleTrailer = "bulwark-rule";

    private const int ReasonLengthMax = 500;
    private const int IdLengthMax = 64;

    private readonly ServiceCaller _caller = new(options.ServiceCallTimeout);

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup(StaffPaths.Api + "/approvals").AddEndpointFilter(AppApiEndpoints.ProblemFilterAsync);
        var console = api.MapGroup("").RequireAuthorization(StaffPolicies.Console);
        console.MapPost("", (HttpContext http, StaffApprovalsApi api) => api.ProposeAsync(http));
        console.MapGet("", (HttpContext http, StaffApprovalsApi api) => api.ListAsync(http));
        console.MapGet("/{approvalId}", (HttpContext http, StaffApprovalsApi api, string approvalId) => api.GetAsync(http, approvalId));
        var operations = api.MapGroup("").RequireAuthorization(StaffPolicies.OperationsOnly);
        operations.MapPost("/{approvalId}/approve", (HttpContext http, StaffApprovalsApi api, string approvalId) => api.ApproveAsync(http, approvalId));
        operations.MapPost("/{approvalId}/refuse", (HttpContext http, StaffApprovalsApi api, string approvalId) => api.RefuseAsync(http, approvalId));
        // Executes an approval left approved (the edge stopped, or accounts was unavailable): idempotent.
        operations.MapPost("/{approvalId}/execute", (HttpContext http, StaffApprovalsApi api, string approvalId) => api.ExecuteAsync(http, approvalId));
    }

    public async Task<IResult> ProposeAsync(HttpContext http)
    {
        var requestId = IdempotencyKey.Read(http.Request);
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var fields = new Api.RequestFields(body.RootElement);
        var kind = fields.RequiredString("kind", IdLengthMax) switch
        {
            null => ApprovalKind.Unspecified,
            "goodwill_credit" => ApprovalKind.GoodwillCredit,
            "refund" => ApprovalKind.Refund,
            _ => Invalid(fields, "kind", "kind must be goodwill_credit or refund."),
        };
        var customerId = fields.RequiredString("customerId", IdLengthMax);
        var accountId = fields.RequiredString("accountId", IdLengthMax);
        var amount = fields.RequiredAmount("amount");
        var currency = fields.RequiredCurrency("currency");
        var reason = fields.RequiredString("reason", ReasonLengthMax);
        var original = (fields.OptionalString("originalTransferId", IdLengthMax) ?? "").ToLowerInvariant();
        if (kind == ApprovalKind.Refund && !IsTransferId(original))
        {
            // The accounts service checks it again, with the ledger, before any money moves.
            fields.Fail("originalTransferId", "a refund names the payment it gives back: its transfer id, 32 hex digits, as the customer's feed shows it.");
        }
        fields.ThrowIfInvalid();
        await CheckAccountAsync(customerId!, accountId!, currency!, http.RequestAborted);
        var actor = StaffActor.From(http);
        var approval = await _caller.CallAsync(Service, call => approvals.ProposeAsync(new ProposeApprovalRequest
        {
            Kind = kind,
            CustomerId = customerId,
            AccountId = accountId,
            Amount = amount!.Value,
            Currency = currency,
            Reason = reason,
            OriginalTransferId = original,
            MakerStaffId = actor.StaffId,
            SourceAddress = actor.Source.ToString(),
            ClientRequestId = requestId,
        }, call), http.RequestAborted);
        return TypedResults.Json(ToDto(approval), StaffApprovalsJsonContext.Default.ApprovalDto, statusCode: StatusCodes.Status201Created);
    }

    public async Task<IResult> ListAsync(HttpContext http)
    {
        var query = http.Request.Query;
        var status = query["status"].ToString() switch
        {
            "" => ApprovalStatus.Unspecified,
            "pending" => ApprovalStatus.Pending,
            "approved" => ApprovalStatus.Approved,
            "refused" => ApprovalStatus.Refused,
            "executed" => ApprovalStatus.Executed,
            "failed" => ApprovalStatus.Failed,
            "expired" => ApprovalStatus.Expired,
            _ => throw ProblemException.Field(ProblemType.Validation, "status", "status must be pending, approved, refused, executed, failed or expired."),
        };
        var limit = 0;
        if (query["limit"].ToString() is { Length: > 0 } text && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 500))
        {
            throw ProblemException.Field(ProblemType.Validation, "limit", "limit must be a whole number from 1 to 500.");
        }
        var response = await _caller.CallAsync(Service, call => approvals.ListAsync(new ListApprovalsRequest
        {
            Status = status,
            CustomerId = query["customerId"].ToString(),
            Limit = limit,
            Cursor = query["cursor"].ToString(),
        }, call), http.RequestAborted);
        var dto = new ApprovalListDto([.. response.Approvals.Select(ToDto)], response.NextCursor.Length == 0 ? null : response.NextCursor);
        return TypedResults.Json(dto, StaffApprovalsJsonContext.Default.ApprovalListDto);
    }

    public async Task<IResult> GetAsync(HttpContext http, string approvalId) =>
        TypedResults.Json(ToDto(await GetApprovalAsync(approvalId, http.RequestAborted)), StaffApprovalsJsonContext.Default.ApprovalDto);

    public async Task<IResult> ApproveAsync(HttpContext http, string approvalId)
    {
        var actor = StaffActor.From(http);
        // The support service refuses one's own approval too (the rule's home); asking first
        // answers the console without a state change being attempted.
        RefuseOwn(await GetApprovalAsync(approvalId, http.RequestAborted), actor);
        var approval = await DecideAsync(() => _caller.CallAsync(Service, call => approvals.ApproveAsync(new ApproveRequest
        {
            ApprovalId = approvalId,
            CheckerStaffId = actor.StaffId,
            SourceAddress = actor.Source.ToString(),
        }, call), http.RequestAborted));
        return Json(await ExecuteIfApprovedAsync(approval, actor, http.RequestAborted));
    }

    public async Task<IResult> RefuseAsync(HttpContext http, string approvalId)
    {
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var fields = new Api.RequestFields(body.RootElement);
        var reason = fields.RequiredString("reason", ReasonLengthMax);
        fields.ThrowIfInvalid();
        var actor = StaffActor.From(http);
        RefuseOwn(await GetApprovalAsync(approvalId, http.RequestAborted), actor);
        var approval = await DecideAsync(() => _caller.CallAsync(Service, call => approvals.RefuseAsync(new RefuseRequest
        {
            ApprovalId = approvalId,
            CheckerStaffId = actor.StaffId,
            Reason = reason,
            SourceAddress = actor.Source.ToString(),
        }, call), http.RequestAborted));
        return Json(approval);
    }

    public async Task<IResult> ExecuteAsync(HttpContext http, string approvalId)
    {
        var approval = await GetApprovalAsync(approvalId, http.RequestAborted);
        if (approval.Status is not (ApprovalStatus.Approved or ApprovalStatus.Executed or ApprovalStatus.Failed))
        {
            throw new ProblemException(ProblemType.RuleViolated, $"Approval {approvalId} is {Name(approval.Status)}: only an approved approval is executed.");
        }
        return Json(await ExecuteIfApprovedAsync(approval, StaffActor.From(http), http.RequestAborted));
    }

    /// <summary>
    /// Moves the money of an approved approval and records the outcome. Safe to run again at any
    /// point: the credit's transfer id is the approval's, so a second run finds the first transfer.
    /// A refusal by the accounts service (a closed account, a wrong currency) is recorded as failed;
    /// an unavailable service leaves the approval approved, to be executed again. ALREADY_EXISTS
    /// (a transfer with this approval's id but another body) is not a refusal: money may have moved
    /// under that id, so the approval stays approved for a person to look at, never "failed".
    /// Not the request's token: once the credit is sent, its outcome is recorded even if the
    /// browser has gone (within twice the call deadline), so a paid credit is not left "approved".
    /// </summary>
    private async Task<Approval> ExecuteIfApprovedAsync(Approval approval, StaffActor actor, CancellationToken requestAborted)
    {
        if (approval.Status != ApprovalStatus.Approved)
        {
            return approval;
        }
        requestAborted.ThrowIfCancellationRequested();
        using var bounded = new CancellationTokenSource(options.ServiceCallTimeout * 2);
        var cancellationToken = bounded.Token;
        var outcome = new RecordExecutionRequest { ApprovalId = approval.ApprovalId, ActorStaffId = actor.StaffId, SourceAddress = actor.Source.ToString() };
        try
        {
            var movement = await _caller.CallAsync(ServiceCaller.Accounts, call => accounts.CreditFromBankAsync(new CreditFromBankRequest
            {
                CustomerId = approval.CustomerId,
                AccountId = approval.AccountId,
                Amount = approval.Amount,
                Currency = approval.Currency,
                Kind = approval.Kind == ApprovalKind.Refund ? BankCreditKind.Refund : BankCreditKind.GoodwillCredit,
                ApprovalId = approval.ApprovalId,
            }, call), cancellationToken);
            outcome.TransferId = movement.TransferId;
        }
        catch (ServiceCallException error) when (error.StatusCode is StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.NotFound
            or StatusCode.PermissionDenied)
        {
            LogExecutionRefused(logger, approval.ApprovalId, error.StatusCode.ToString(), error.ServiceMessage);
            outcome.FailureReason = Truncate($"accounts refused the credit ({error.StatusCode}): {error.ServiceMessage}");
        }
        return await _caller.CallAsync(Service, call => approvals.RecordExecutionAsync(outcome, call), cancellationToken);
    }

    /// <summary>
    /// The account must be the customer's current account in the proposal's currency: asked of
    /// accounts now, so a checker never approves a credit that was bound to fail (an unknown
    /// customer is 404, another customer's account or currency a 400 naming the field).
    /// </summary>
    private async Task CheckAccountAsync(string customerId, string accountId, string currency, CancellationToken cancellationToken)
    {
        var owned = await _caller.CallAsync(ServiceCaller.Accounts,
            call => accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = customerId }, call), cancellationToken);
        var account = owned.Accounts.FirstOrDefault(candidate => candidate.AccountId == accountId)
            ?? throw ProblemException.Field(ProblemType.Validation, "accountId", "accountId is not a current account of this customer.");
        if (account.Currency != currency)
        {
            throw ProblemException.Field(ProblemType.CurrencyMismatch, "currency", $"currency must be {account.Currency}, the account's currency.");
        }
    }

    private async Task<Approval> GetApprovalAsync(string approvalId, CancellationToken cancellationToken)
    {
        if (!Guid.TryParseExact(approvalId, "D", out _))
        {
            throw new ProblemException(ProblemType.NotFound, "There is no such approval.");
        }
        return await _caller.CallAsync(Service, call => approvals.GetAsync(new GetApprovalRequest { ApprovalId = approvalId }, call), cancellationToken);
    }

    /// <summary>The support service's refusals of a decision, as the console shows them: one's own approval is 403, a decided one 409.</summary>
    private static async Task<Approval> DecideAsync(Func<Task<Approval>> decide)
    {
        try
        {
            return await decide();
        }
        catch (ServiceCallException error) when (error.StatusCode == StatusCode.FailedPrecondition)
        {
            var rule = (error.InnerException as RpcException)?.Trailers.GetValue(RuleTrailer);
            throw rule == "own-approval"
                ? new ProblemException(ProblemType.OwnApproval, error.ServiceMessage)
                : new ProblemException(ProblemType.Conflict, error.ServiceMessage);
        }
    }

    private static void RefuseOwn(Approval approval, StaffActor actor)
    {
        if (approval.MakerStaffId == actor.StaffId)
        {
            throw new ProblemException(ProblemType.OwnApproval,
                $"You proposed approval {approval.ApprovalId}; another operations member must decide it (maker-checker).");
        }
    }

    private static ApprovalKind Invalid(Api.RequestFields fields, string field, string message)
    {
        fields.Fail(field, message);
        return ApprovalKind.Unspecified;
    }

    private static bool IsTransferId(string text) => text.Length == 32 && text.All(char.IsAsciiHexDigit);

    private static string Truncate(string text) => text.Length <= ReasonLengthMax ? text : text[..ReasonLengthMax];

    private static IResult Json(Approval approval) => TypedResults.Json(ToDto(approval), StaffApprovalsJsonContext.Default.ApprovalDto);

    private static string Name(ApprovalStatus status) => status switch
    {
        ApprovalStatus.Pending => "pending",
        ApprovalStatus.Approved => "approved",
        ApprovalStatus.Refused => "refused",
        ApprovalStatus.Executed => "executed",
        ApprovalStatus.Failed => "failed",
        ApprovalStatus.Expired => "expired",
        _ => "unknown",
    };

    private static ApprovalDto ToDto(Approval approval) => new(
        approval.ApprovalId,
        approval.Kind == ApprovalKind.Refund ? "refund" : "goodwill_credit",
        Name(approval.Status),
        approval.CustomerId,
        approval.AccountId,
        approval.Amount,
        approval.Currency,
        approval.Reason,
        approval.OriginalTransferId,
        approval.MakerStaffId,
        approval.ProposedAtUnixMs,
        approval.ExpiresAtUnixMs,
        approval.CheckerStaffId,
        approval.DecidedAtUnixMs,
        approval.DecisionReason,
        approval.TransferId,
        approval.FailureReason,
        approval.ExecutedAtUnixMs);

    [LoggerMessage(EventId = 4140, Level = LogLevel.Warning, Message = "Approval {ApprovalId} was approved but accounts refused its credit ({Status}: {Detail}); recorded as failed")]
    private static partial void LogExecutionRefused(ILogger logger, string approvalId, string status, string detail);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ApprovalDto))]
[System.Text.Json.Serialization.JsonSerializable(typeof(ApprovalListDto))]
internal sealed partial class StaffApprovalsJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
