using Microsoft.Extensions.Logging;

namespace Bulwark.Edge;

/// <summary>The edge's log messages, source-generated with stable event ids.</summary>
internal static partial class EdgeLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "{Method} {Path}: the {Service} service answered {StatusCode}: {ServiceMessage}")]
    public static partial void ServiceCallFailed(ILogger logger, string method, string path, string service, string statusCode, string serviceMessage);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "{Method} {Path}: the {Service} service answered {StatusCode}")]
    public static partial void ServiceCallRefused(ILogger logger, string method, string path, string service, string statusCode);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Error, Message = "{Method} {Path}: unexpected error")]
    public static partial void UnexpectedError(ILogger logger, Exception error, string method, string path);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Customer {CustomerId} logged in")]
    public static partial void LoggedIn(ILogger logger, string customerId);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Failed login from {Source} for account {AccountHash}")]
    public static partial void LoginFailed(ILogger logger, string source, string accountHash);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "Login from {Source} for account {AccountHash} refused by the {Limit} limit for {RetryAfterSeconds} s")]
    public static partial void LoginThrottled(ILogger logger, string source, string accountHash, string limit, long retryAfterSeconds);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Information, Message = "Customer {CustomerId} logged out; token {TokenId} revoked")]
    public static partial void LoggedOut(ILogger logger, string customerId, string tokenId);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "Customer {CustomerId}: payments refused after too many payments to accounts that do not exist")]
    public static partial void PayeeLookupsThrottled(ILogger logger, string customerId);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Information, Message = "Revoked token {TokenId} of customer {CustomerId} refused")]
    public static partial void RevokedTokenRefused(ILogger logger, string tokenId, string customerId);
}
