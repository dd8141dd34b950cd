using System.Buffers;
using System.Text.Json;
using Bulwark.Edge.Problems;
using Microsoft.AspNetCore.Http;

namespace Bulwark.Edge.Api;

/// <summary>
/// Reads a request body as one JSON object, bounded in size and depth. The edge parses bodies itself
/// rather than binding them to types so that every bad input — malformed JSON, a number too large
/// for a long, a string where a number belongs — becomes a problem naming the field, never a 500.
/// </summary>
internal static class JsonBody
{
    public static async Task<JsonDocument> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentType is { Length: > 0 } contentType && !IsJson(contentType))
        {
            throw new ProblemException(ProblemType.UnsupportedMediaType, $"Content-Type '{Truncate(contentType)}' is not JSON; send application/json.");
        }
        if (request.ContentLength > EdgeLimits.RequestBodyBytesMax)
        {
            throw TooLarge();
        }
        var body = await ReadBoundedAsync(request.Body, cancellationToken);
        if (body.Length == 0)
        {
            throw new ProblemException(ProblemType.MalformedJson, "The request body is empty; send a JSON object.");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = EdgeLimits.RequestJsonDepthMax });
        }
        catch (JsonException error)
        {
            throw new ProblemException(ProblemType.MalformedJson,
                $"The request body is not valid JSON (line {error.LineNumber + 1}, byte {error.BytePositionInLine + 1}).");
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new ProblemException(ProblemType.MalformedJson, "The request body must be a JSON object.");
        }
        if (FindDuplicateName(document.RootElement, "") is { } duplicate)
        {
            document.Dispose();
            var field = Truncate(duplicate);
            throw ProblemException.Field(ProblemType.Validation, field,
                $"{field} appears more than once in the request body; send each field once.");
        }
        return document;
    }

    /// <summary>
    /// The first property name that occurs twice in one object (compared after unescaping, so
    /// "amount" and "\u0061mount" are the same), as a dotted path; null when there is none.
    /// JSON parsers disagree on which duplicate wins, so a body with one is ambiguous: "amount" twice
    /// once paid the second amount. The body is small and its depth bounded, so the walk is too.
    /// </summary>
    private static string? FindDuplicateName(JsonElement element, string path)
    {
        if (element.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                if (FindDuplicateName(item, $"{path}[{index++}]") is { } found)
                {
                    return found;
                }
            }
            return null;
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            var name = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
            if (!names.Add(property.Name))
            {
                return name;
            }
            if (FindDuplicateName(property.Value, name) is { } found)
            {
                return found;
            }
        }
        return null;
    }

    private static async Task<ReadOnlyMemory<byte>> ReadBoundedAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        while (true)
        {
            var memory = buffer.GetMemory(4096);
            var read = await body.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                return buffer.WrittenMemory;
            }
            buffer.Advance(read);
            if (buffer.WrittenCount > EdgeLimits.RequestBodyBytesMax)
            {
                throw TooLarge();
            }
        }
    }

    private static bool IsJson(string contentType)
    {
        var mediaType = contentType.Split(';', 2)[0].Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (mediaType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }

    private static ProblemException TooLarge() =>
        new(ProblemType.PayloadTooLarge, $"The request body is larger than {EdgeLimits.RequestBodyBytesMax} bytes.");

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64];
}
