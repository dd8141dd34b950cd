using System.Text.RegularExpressions;
using Bulwark.Edge.Services;
using Grpc.Core;

namespace Bulwark.Edge.Problems;

/// <summary>
/// The one place where gRPC status codes from the services become HTTP problems. A service's own
/// message is passed on only for codes that describe the customer's request (invalid argument, a
/// business rule); for the rest the customer gets a fixed text, so nothing about other customers
/// or the inside of the bank can leak.
/// </summary>
internal static partial class ServiceErrorMapping
{
    public static ProblemResult Map(ServiceCallException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error.OverloadedRetryAfter is { } wait)
        {
            // The service did not start the call: the client may safely retry, after the wait, with the same key.
            return new ProblemResult(ProblemType.Overloaded,
                "A service this request needs is at its limit and did not start it; nothing was done. Retry after Retry-After with the same Idempotency-Key.",
                retryAfter: wait);
        }
        var (problemType, detail) = MapStatus(error);
        // A service that names the bad field (accounts does, in a trailer) lets the answer point at it.
        var errors = error.Field is { } field && problemType.Status is 400 or 422
            ? new Dictionary<string, string[]>(StringComparer.Ordinal) { [field] = [detail] }
            : null;
        return new ProblemResult(problemType, detail, errors);
    }

    private static (ProblemType ProblemType, string Detail) MapStatus(ServiceCallException error)
    {
        return error.StatusCode switch
        {
            StatusCode.Unavailable or StatusCode.ResourceExhausted or StatusCode.Cancelled =>
                (ProblemType.ServiceUnavailable, "A service this request needs is unavailable right now. Try again shortly."),
            StatusCode.DeadlineExceeded =>
                (ProblemType.GatewayTimeout, "A service this request needs did not answer in time. Retrying with the same Idempotency-Key is safe."),
            // The accounts service's not-found messages name only what the caller sent (an id, a sort code).
            StatusCode.NotFound => (ProblemType.NotFound, ServiceMessage(error, "The resource was not found.")),
            // Another customer's resource answers like a missing one, so that its existence is not told either.
            StatusCode.PermissionDenied => (ProblemType.NotFound, "The resource was not found."),
            StatusCode.InvalidArgument or StatusCode.OutOfRange => (ProblemType.Validation, ServiceMessage(error, "The request is invalid.")),
            StatusCode.FailedPrecondition => MapBusinessRule(error),
            StatusCode.AlreadyExists => (ProblemType.Conflict, ServiceMessage(error, "It already exists.")),
            StatusCode.Aborted => (ProblemType.Conflict, "A concurrent change won; try again."),
            StatusCode.Unimplemented => (ProblemType.NotImplemented, "This operation is not available yet."),
            _ => (ProblemType.Internal, "Something went wrong on our side; it has been logged."),
        };
    }

    /// <summary>
    /// The accounts contract says a failed precondition's message names the rule; insufficient funds
    /// and currency mismatches get their own problem types because clients act on them.
    /// </summary>
    private static (ProblemType ProblemType, string Detail) MapBusinessRule(ServiceCallException error)
    {
        var message = error.ServiceMessage;
        if (message.Contains("insufficient", StringComparison.OrdinalIgnoreCase)
            || message.Contains("exceeds credits", StringComparison.OrdinalIgnoreCase)
            || message.Contains("exceeds_credits", StringComparison.OrdinalIgnoreCase))
        {
            return (ProblemType.InsufficientFunds, "There is not enough money available for this.");
        }
        if (message.Contains("currency", StringComparison.OrdinalIgnoreCase))
        {
            return (ProblemType.CurrencyMismatch, ServiceMessage(error, "The currency does not match the account."));
        }
        return (ProblemType.RuleViolated, ServiceMessage(error, "The request cannot be carried out."));
    }

    private static string ServiceMessage(ServiceCallException error, string fallback)
    {
        var message = error.ServiceMessage.Trim();
        if (message.Length == 0)
        {
            return fallback;
        }
        message = message.Length <= EdgeLimits.ServiceMessageLengthMax ? message : message[..EdgeLimits.ServiceMessageLengthMax];
        return InApiSpelling(message);
    }

    /// <summary>
    /// Services name fields as their contracts do (goal_amount, from_account_id); the app API names
    /// them in camelCase (goalAmount, fromAccountId). Every snake_case word in a message passed on is
    /// respelled, so a customer never sees an internal contract name.
    /// </summary>
    internal static string InApiSpelling(string message) =>
        SnakeCaseWord().Replace(message, match =>
        {
            var parts = match.Value.Split('_');
            return parts[0] + string.Concat(parts.Skip(1).Select(part => char.ToUpperInvariant(part[0]) + part[1..]));
        });

    [GeneratedRegex(@"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex SnakeCaseWord();
}
