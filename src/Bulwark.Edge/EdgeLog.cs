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
}
