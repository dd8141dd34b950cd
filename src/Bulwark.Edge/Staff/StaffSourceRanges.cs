using Bulwark.Platform.Security;

namespace Bulwark.Edge.Staff;

/// <summary>The ranges staff requests may come from now, and where they came from (for logs and the ops view).</summary>
/// <param name="Networks">The allowed networks.</param>
/// <param name="Origin">
/// Where they come from: "configuration v12", "last known good v12 (configuration unavailable)",
/// "default (never configured)".
/// </param>
public sealed record StaffRanges(SourceNetworks Networks, string Origin);

/// <summary>
/// The staff edge's allowed source ranges. Read on every staff request, so it must answer from
/// memory: the configuration-backed implementation keeps the last good ranges while the
/// configuration service is unavailable or answers a not-found it cannot trust (R14).
/// </summary>
public interface IStaffSourceRanges
{
    StaffRanges Current { get; }
}

/// <summary>Fixed ranges (<see cref="StaffEdgeOptions.DefaultAllowedRanges"/>): a host without the configuration client.</summary>
public sealed class FixedStaffSourceRanges(StaffEdgeOptions options) : IStaffSourceRanges
{
    public StaffRanges Current { get; } = new(new SourceNetworks(options.DefaultAllowedRanges), "the staff edge's defaults");
}
