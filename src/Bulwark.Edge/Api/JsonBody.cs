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
        return document;
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
