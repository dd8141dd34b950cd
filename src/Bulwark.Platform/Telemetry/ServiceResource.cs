using Bulwark.Platform.Hosting;
using OpenTelemetry.Resources;

namespace Bulwark.Platform.Telemetry;

/// <summary>
/// Names the process in OpenTelemetry (<c>service.name</c>), which is otherwise "unknown_service":
/// <see cref="BulwarkHostOptions.ServiceName"/> when the host sets it (<c>bulwark serve --service
/// edge</c> does), else the one service the process hosts ("ledger"), else "bulwark" — the
/// one-process bank (<c>bulwark run</c>) hosts them all, and a name that changes with the list
/// would break every dashboard. The hosted services are listed in <c>bulwark.services</c>
/// ("ledger,accounts,feed,cards"); <c>service.version</c> is the host's version.
/// </summary>
internal sealed class ServiceResource(BulwarkHostOptions options, IEnumerable<HostedServiceName> hosted) : IResourceDetector
{
    public const string ProcessNameDefault = "bulwark";
    public const string ServicesAttribute = "bulwark.services";

    public Resource Detect()
    {
        var names = hosted.Select(service => service.Name).Distinct(StringComparer.Ordinal).ToList();
        var serviceName = !string.IsNullOrWhiteSpace(options.ServiceName) ? options.ServiceName
            : names.Count == 1 ? names[0]
            : ProcessNameDefault;
        var attributes = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["service.name"] = serviceName,
            ["service.version"] = options.Version,
        };
        if (names.Count > 0)
        {
            attributes[ServicesAttribute] = string.Join(',', names);
        }
        return new Resource(attributes);
    }
}
