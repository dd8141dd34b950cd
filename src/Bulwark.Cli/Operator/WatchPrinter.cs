using System.Text.Json.Nodes;
using Bulwark.Config.Protos;
using Grpc.Core;

namespace Bulwark.Cli.Operator;

/// <summary>
/// Prints a configuration watch for <c>bulwark config watch</c>: each change on a line of its own
/// (or a JSON object per line), a snapshot as a header and its keys; progress events only keep
/// the stream alive. Counts events: a change, or a whole snapshot however many chunks it came in.
/// </summary>
internal sealed class WatchPrinter(TextWriter output, bool json)
{
    /// <summary>Events printed so far.</summary>
    public int Events { get; private set; }

    public async Task PrintAsync(Bulwark.Config.Protos.Config.ConfigClient client, WatchRequest request, int eventsMax, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var call = client.Watch(request, cancellationToken: cancellationToken);
        var snapshot = new List<Entry>();
        while (Events < eventsMax && await call.ResponseStream.MoveNext(cancellationToken))
        {
            var watchEvent = call.ResponseStream.Current;
            switch (watchEvent.Kind)
            {
                case WatchEventKind.Change:
                    await output.WriteLineAsync(json
                        ? new JsonObject { ["kind"] = "change", ["revision"] = watchEvent.Revision, ["entry"] = ConfigViews.ToJson(watchEvent.Entry) }.ToJsonString()
                        : ConfigViews.ChangeLine(watchEvent.Entry));
                    Events++;
                    break;
                case WatchEventKind.Resync:
                    snapshot.AddRange(watchEvent.Snapshot);
                    if (!watchEvent.More)
                    {
                        await PrintSnapshotAsync(snapshot, watchEvent.Revision);
                        snapshot.Clear();
                        Events++;
                    }
                    break;
                default:
                    // Progress: the stream is alive and this watcher is current; nothing to print.
                    break;
            }
            await output.FlushAsync(cancellationToken);
        }
    }

    private async Task PrintSnapshotAsync(List<Entry> snapshot, long revision)
    {
        if (json)
        {
            await output.WriteLineAsync(new JsonObject { ["kind"] = "snapshot", ["revision"] = revision, ["entries"] = new JsonArray([.. snapshot.Select(ConfigViews.ToJson)]) }.ToJsonString());
            return;
        }
        await output.WriteLineAsync($"snapshot at revision {revision}: {snapshot.Count} key(s)");
        foreach (var entry in snapshot)
        {
            await output.WriteLineAsync($"  {entry.Key} = {ConfigViews.Cell(entry)} (version {entry.Version})");
        }
    }
}
