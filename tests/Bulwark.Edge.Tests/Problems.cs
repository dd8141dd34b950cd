using System.Net;
using System.Text.Json;

namespace Bulwark.Edge.Tests;

/// <summary>Assertions on RFC 7807 problem documents.</summary>
public static class Problems
{
    /// <summary>
    /// Asserts the status, the media type, the type (ending in /problems/<paramref name="slug"/>)
    /// and the presence of title and detail; when <paramref name="field"/> is given, that the errors
    /// object names it. Returns the parsed document.
    /// </summary>
    public static async Task<JsonElement> AssertAsync(HttpResponseMessage response, HttpStatusCode status, string slug, string? field = null)
    {
        ArgumentNullException.ThrowIfNull(response);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status} but got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal($"/problems/{slug}", problem.GetProperty("type").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        if (field is not null)
        {
            Assert.True(problem.TryGetProperty("errors", out var errors), $"No errors object in {body}");
            Assert.True(errors.TryGetProperty(field, out var messages), $"errors does not name '{field}': {body}");
            Assert.NotEqual(0, messages.GetArrayLength());
        }
        return problem;
    }
}
