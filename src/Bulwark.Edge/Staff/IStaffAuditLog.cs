using System.Text.Json;
using Bulwark.Edge.Services;
using Bulwark.Support.Protos;
using Grpc.Core;

namespace Bulwark.Edge.Staff;

/// <summary>
/// Writes what staff do to the support service's append-only audit log (docs/concepts/staff-and-audit.md):
/// who, what, to whom, why, from where. Every console and ops-view action, viewing a customer
/// included, is written before its answer is given; an audit log that cannot be written stops the
/// action (503), so nothing a staff member sees or does goes unrecorded.
/// </summary>
public interface IStaffAuditLog
{
    /// <summary>Appends one entry and answers its sequence number.</summary>
    Task<long> AppendAsync(StaffActor actor, string action, string subject, string reason, IReadOnlyDictionary<string, string>? details, CancellationToken cancellationToken);
}

/// <summary>The support service's <c>Audit.Append</c> (never retried: a retry would append twice).</summary>
internal sealed class SupportStaffAuditLog(Audit.AuditClient audit, StaffEdgeOptions options) : IStaffAuditLog
{
    public async Task<long> AppendAsync(StaffActor actor, string action, string subject, string reason, IReadOnlyDictionary<string, string>? details, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        try
        {
            var entry = await audit.AppendAsync(new AppendAuditRequest
            {
                ActorStaffId = actor.StaffId,
                Action = action,
                Subject = subject,
                Reason = reason,
                DetailsJson = details is null || details.Count == 0 ? "{}" : JsonSerializer.Serialize(details, StaffJsonContext.Default.IReadOnlyDictionaryStringString),
                SourceAddress = actor.Source.ToString(),
            }, deadline: DateTime.UtcNow.Add(options.ServiceCallTimeout), cancellationToken: cancellationToken);
            return entry.Sequence;
        }
        catch (RpcException error)
        {
            throw new ServiceCallException(SupportStaffAuthenticator.Service, error);
        }
    }
}
