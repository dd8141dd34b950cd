using System.Net;

namespace Bulwark.Edge.Tests.Api;

/// <summary>Every 404 the edge answers is a problem document, inside the API and outside it.</summary>
public sealed class NotFoundTests
{
    [Theory]
    [InlineData("/api/no-such-endpoint")]
    [InlineData("/no-such-page")]
    [InlineData("/js/no-such-file.js")]
    [InlineData("/problems/no-such-problem")]
    public async Task Get_UnknownPath_Returns404ProblemDocument(string path)
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Get, path);

        await Problems.AssertAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Get_KnownProblemType_StillDescribed()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/problems/not-found");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
    }
}
