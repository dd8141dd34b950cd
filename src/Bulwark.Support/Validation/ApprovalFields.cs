using System.Globalization;
using Bulwark.Support.Grpc;
using Bulwark.Support.Protos;
using Bulwark.Support.Storage;

namespace Bulwark.Support.Validation;

/// <summary>The approvals contract's own fields: each method throws INVALID_ARGUMENT naming the field, or returns the canonical value.</summary>
internal static class ApprovalFields
{
    public static string Kind(ApprovalKind kind, string field) =>
        ApprovalViews.KindName(kind) ?? throw SupportErrors.Invalid(field, "must be GOODWILL_CREDIT or REFUND");

    public static long Amount(long amount, string field) =>
        amount is > 0 and <= SupportLimits.ApprovalAmountMax ? amount
            : throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture,
                $"must be 1 to {SupportLimits.ApprovalAmountMax} minor units (greater than zero, and larger movements are not a console action)"));

    public static string Currency(string currency, string field) =>
        currency.Length == 3 && currency.All(char.IsAsciiLetterUpper) ? currency
            : throw SupportErrors.Invalid(field, "must be an ISO 4217 code of three upper-case letters, such as GBP");

    /// <summary>Required for a refund (what it refunds), refused for a goodwill credit (which refunds nothing).</summary>
    public static string OriginalTransferId(string value, string field, string kind)
    {
        if (kind != ApprovalViews.Refund)
        {
            return value.Length == 0 ? "" : throw SupportErrors.Invalid(field, "must be empty for a goodwill credit; only a refund names an original transfer");
        }
        if (value.Length == 0)
        {
            throw SupportErrors.Invalid(field, "is required for a refund: the transfer or feed item being refunded");
        }
        if (value.Length > SupportLimits.OriginalTransferIdLengthMax || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture,
                $"must be 1 to {SupportLimits.OriginalTransferIdLengthMax} letters, digits, '-' or '_'"));
        }
        return value;
    }

    /// <summary>32 hex digits, in lower case.</summary>
    public static string ClientRequestId(string value, string field)
    {
        if (value.Length == 0)
        {
            throw SupportErrors.Invalid(field, "is required: 32 hex digits the client chooses and reuses on retries");
        }
        return value.Length == 32 && value.All(char.IsAsciiHexDigit) ? value.ToLowerInvariant()
            : throw SupportErrors.Invalid(field, "must be 32 hex digits");
    }

    /// <summary>Exactly one of a ledger transfer id (32 hex digits, executed) or a failure reason (failed).</summary>
    public static (string TransferId, string FailureReason) Outcome(string transferId, string failureReason)
    {
        var failure = RequestFields.Text(failureReason, "failure_reason", SupportLimits.ReasonLengthMax, required: false);
        if ((transferId.Length == 0) == (failure.Length == 0))
        {
            throw SupportErrors.Invalid("transfer_id", "or failure_reason must be set, not both: the transfer that moved the money, or why it could not move");
        }
        if (transferId.Length > 0 && (transferId.Length != 32 || !transferId.All(char.IsAsciiHexDigit)))
        {
            throw SupportErrors.Invalid("transfer_id", "must be 32 hex digits");
        }
        return (transferId.ToLowerInvariant(), failure);
    }

    /// <summary>"0:" or "1:" (pending or not) and an approval id, as List answers it; empty: from the first.</summary>
    public static ApprovalCursor? Cursor(string value, string field)
    {
        if (value.Length == 0)
        {
            return null;
        }
        if (value.Length != 38 || value[1] != ':' || value[0] is not ('0' or '1') || !Guid.TryParseExact(value[2..], "D", out var id))
        {
            throw SupportErrors.Invalid(field, "must be the next_cursor of the previous page");
        }
        return new ApprovalCursor(value[0] == '0', id.ToString("D"));
    }
}
