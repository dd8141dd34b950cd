using System.Net;
using Bulwark.Platform.Overload;

namespace Bulwark.Platform.Hosting;

/// <summary>How a Bulwark process listens and what it calls itself.</summary>
public sealed class BulwarkHostOptions
{
    /// <summary>
    /// Internal gRPC endpoint (plaintext HTTP/2). Port 0 picks a free port; the registry learns the
    /// real one after start. Default: 127.0.0.1:0.
    /// </summary>
    public IPEndPoint InternalEndpoint { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>Public HTTP endpoint (app API, web UI) or null for none. gRPC is refused here.</summary>
    public IPEndPoint? PublicEndpoint { get; init; }

    /// <summary>
    /// The internal staff edge's HTTP endpoint (staff login, the console, the ops view) or null for
    /// none. Only staff endpoints answer here, and staff endpoints answer nowhere else; gRPC is refused.
    /// </summary>
    public IPEndPoint? StaffEndpoint { get; init; }

    /// <summary>
    /// The staff edge's operator endpoint (plaintext HTTP/2 only: the operator CLI's gRPC calls,
    /// checked, audited and forwarded by the operator gateway) or null for none. Only the staff
    /// edge's gateway answers here; set it only together with <see cref="StaffEndpoint"/>.
    /// </summary>
    public IPEndPoint? OperatorEndpoint { get; init; }

    /// <summary>The version this process runs, published in its registry records.</summary>
    public string Version { get; init; } = "dev";

    /// <summary>
    /// The OpenTelemetry <c>service.name</c> of this process, or null to take it from the services it
    /// hosts (one: its name; several or none: "bulwark"). A process whose service does not register
    /// in discovery (the edge) sets it.
    /// </summary>
    public string? ServiceName { get; init; }

    /// <summary>Lowest level written to the console. Default: Information.</summary>
    public Microsoft.Extensions.Logging.LogLevel ConsoleLogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;

    /// <summary>How many gRPC calls the process serves at once, and the share kept for card authorisations. Validated at start.</summary>
    public OverloadOptions Overload { get; init; } = new();
}
