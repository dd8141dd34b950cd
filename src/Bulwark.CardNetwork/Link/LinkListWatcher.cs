using Microsoft.Extensions.Logging;

namespace Bulwark.CardNetwork.Link;

/// <summary>
/// Keeps a <see cref="SchemeLinkPool"/> in step with an <see cref="IIssuerLinkSource"/>: reads the
/// list, applies it, and logs and counts what it had to skip. Bad lines are skipped; a list that
/// cannot be read keeps the links known (a missing file is not an empty list); an empty list closes
/// every link, and the scheme stands in for every card until a link is listed again.
/// </summary>
internal sealed partial class LinkListWatcher(IIssuerLinkSource source, SchemeLinkPool links, ILogger logger)
{
    private readonly ILogger _logger = logger;
    private long _malformedLines;
    private long _readErrors;

    /// <summary>Lines skipped as malformed so far (each once per new content of the list).</summary>
    public long MalformedLines => Interlocked.Read(ref _malformedLines);

    /// <summary>Times the list could not be read (each error once until it changes).</summary>
    public long ReadErrors => Interlocked.Read(ref _readErrors);

    /// <summary>Reads the list once and applies it.</summary>
    public void Refresh()
    {
        var list = source.Read();
        foreach (var line in list.MalformedLines)
        {
            Interlocked.Increment(ref _malformedLines);
            LogMalformedLine(line);
        }

        if (list.ReadError is { } error)
        {
            Interlocked.Increment(ref _readErrors);
            LogUnreadable(error);
        }

        if (list.EndPoints is { } endPoints)
        {
            var (added, removed) = links.Update(endPoints);
            if ((added.Count > 0 || removed.Count > 0) && endPoints.Count == 0)
            {
                LogNoLinksListed();
            }
        }
    }

    /// <summary>Refreshes every <paramref name="interval"/> until cancelled.</summary>
    public async Task RunAsync(TimeSpan interval, TimeProvider time, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            Refresh();
        }
    }

    [LoggerMessage(EventId = 5123, Level = LogLevel.Warning, Message = "Scheme simulator skipped a malformed line of the link list: {Line}")]
    private partial void LogMalformedLine(string line);

    [LoggerMessage(EventId = 5124, Level = LogLevel.Warning, Message = "Scheme simulator kept its links: the link list could not be read: {Reason}")]
    private partial void LogUnreadable(string reason);

    [LoggerMessage(EventId = 5125, Level = LogLevel.Warning, Message = "Scheme simulator: the link list is empty; standing in for every card until a link is listed")]
    private partial void LogNoLinksListed();
}
