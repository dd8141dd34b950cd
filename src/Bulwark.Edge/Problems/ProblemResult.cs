using System.Diagnostics;
using System.Text.Json;
using Bulwark.Edge.Api;
using Microsoft.AspNetCore.Http;

namespace Bulwark.Edge.Problems;

/// <summary>Writes a problem document as <c>application/problem+json</c> with the source-generated serializer.</summary>
internal sealed class ProblemResult(ProblemType problemType, string detail, IReadOnlyDictionary<string, string[]>? errors = null, TimeSpan? retryAfter = null)
    : IResult, IStatusCodeHttpResult, IContentTypeHttpResult
{
    public const string MediaType = "application/problem+json";

    public ProblemType ProblemType { get; } = problemType;

    public int? StatusCode => ProblemType.Status;

    public string ContentType => MediaType;

    public static ProblemResult From(ProblemException problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return new ProblemResult(problem.ProblemType, problem.Message, problem.Errors, problem.RetryAfter);
    }

    public Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        return WriteAsync(httpContext, ProblemType, detail, errors, retryAfter);
    }

    public static async Task WriteAsync(HttpContext httpContext, ProblemType problemType, string detail, IReadOnlyDictionary<string, string[]>? errors = null,
        TimeSpan? retryAfter = null)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        ArgumentNullException.ThrowIfNull(problemType);
        var document = new ProblemDocument(
            problemType.Type,
            problemType.Title,
            problemType.Status,
            detail,
            httpContext.Request.Path.Value,
            errors,
            Activity.Current?.TraceId.ToString() ?? httpContext.TraceIdentifier);
        var response = httpContext.Response;
        response.StatusCode = problemType.Status;
        response.ContentType = MediaType;
        response.Headers.CacheControl = "no-store";
        if (retryAfter is { } wait)
        {
            // Whole seconds, rounded up: a client that waits what it is told is never refused again for waiting too little.
            var seconds = Math.Clamp((long)Math.Ceiling(wait.TotalSeconds), 1, EdgeLimits.RetryAfterSecondsMax);
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (problemType.Status is StatusCodes.Status503ServiceUnavailable or StatusCodes.Status429TooManyRequests)
        {
            response.Headers.RetryAfter = EdgeLimits.RetryAfterSecondsDefault.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        await JsonSerializer.SerializeAsync(response.Body, document, EdgeJsonContext.Default.ProblemDocument, httpContext.RequestAborted);
    }
}
