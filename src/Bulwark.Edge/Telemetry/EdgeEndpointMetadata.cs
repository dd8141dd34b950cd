namespace Bulwark.Edge.Telemetry;

/// <summary>Marks the endpoints the edge maps, so that its metrics count them and nothing else.</summary>
internal sealed class EdgeEndpointMetadata
{
    public static readonly EdgeEndpointMetadata Instance = new();
}
