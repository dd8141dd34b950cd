namespace Bulwark.Edge.Problems;

/// <summary>An RFC 7807 problem document as the app API writes it.</summary>
internal sealed record ProblemDocument(
    string Type,
    string Title,
    int Status,
    string Detail,
    string? Instance,
    IReadOnlyDictionary<string, string[]>? Errors,
    string? TraceId);
