using System.Net;
using System.Net.Http.Headers;

namespace Bulwark.Edge.Tests.WebApp;

public sealed class WebAppFilesTests
{
    [Fact]
    public async Task Root_ServesTheAppPageWithAStrictContentSecurityPolicy()
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Get, "/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("data-testid=\"login-form\"", html, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", string.Join(";", response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/js/app.js", "text/javascript")]
    [InlineData("/js/api.js", "text/javascript")]
    [InlineData("/js/home.js", "text/javascript")]
    [InlineData("/app.css", "text/css")]
    [InlineData("/favicon.svg", "image/svg+xml")]
    [InlineData("/favicon.ico", "image/svg+xml")]
    public async Task StaticFile_Embedded_IsServedWithItsContentType(string path, string mediaType)
    {
        await using var host = await EdgeHost.StartAsync();

        using var response = await host.SendAsync(HttpMethod.Get, path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.NotEmpty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task StaticFile_RequestedWithItsETag_Returns304()
    {
        await using var host = await EdgeHost.StartAsync();
        using var first = await host.SendAsync(HttpMethod.Get, "/app.css");
        var etag = first.Headers.ETag;
        Assert.NotNull(etag);

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/app.css", UriKind.Relative));
        request.Headers.IfNoneMatch.Add(new EntityTagHeaderValue(etag.Tag));
        using var second = await host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
    }
}
