namespace Bulwark.Platform.Telemetry;

/// <summary>
/// Meter names. Every Bulwark meter starts with <see cref="Prefix"/> so the host exports all of
/// them without knowing each service.
/// </summary>
public static class BulwarkMeters
{
    public const string Prefix = "Bulwark.";
}
