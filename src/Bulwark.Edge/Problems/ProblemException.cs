namespace Bulwark.Edge.Problems;

/// <summary>
/// Ends a request with a problem document. Thrown by the request helpers (validation, ownership) so
/// that handlers stay straight-line; the API's endpoint filter turns it into the response.
/// </summary>
internal sealed class ProblemException(ProblemType problemType, string detail, IReadOnlyDictionary<string, string[]>? errors = null)
    : Exception(detail)
{
    public ProblemType ProblemType { get; } = problemType;

    public IReadOnlyDictionary<string, string[]>? Errors { get; } = errors;

    /// <summary>The Retry-After to send (429 answers); null for the default of the status.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static ProblemException TooManyRequests(string detail, TimeSpan retryAfter) =>
        new(ProblemType.TooManyRequests, detail) { RetryAfter = retryAfter };

    public static ProblemException Field(ProblemType problemType, string field, string message) =>
        new(problemType, message, new Dictionary<string, string[]>(StringComparer.Ordinal) { [field] = [message] });
}
