namespace Bulwark.Platform.Hosting;

/// <summary>
/// Marks a service hosted by this process; the host registers one instance per marker once it
/// is ready. Service libraries add theirs in <c>AddX</c> via
/// <see cref="BulwarkServiceCollectionExtensions.AddHostedBulwarkService"/>.
/// </summary>
public sealed record HostedServiceName(string Name);
