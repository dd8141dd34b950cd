using System.Net;
using Bulwark.Cards.Link;

namespace Bulwark.Cards;

/// <summary>What a host needs to know about the running card link.</summary>
public sealed class CardLink
{
    private readonly CardLinkServer _server;

    internal CardLink(CardLinkServer server) => _server = server;

    /// <summary>The address the ISO 8583 link listens on; completes when the host has started.</summary>
    public Task<IPEndPoint> GetEndpointAsync() => _server.BoundEndpoint;
}
