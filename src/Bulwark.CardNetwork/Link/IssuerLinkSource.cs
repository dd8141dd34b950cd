using System.Net;

namespace Bulwark.CardNetwork.Link;

/// <summary>
/// One reading of the issuer link list. <see cref="EndPoints"/> is null when the list could not be
/// read (the links already known stay: a list that cannot be read is not an empty list).
/// </summary>
/// <param name="EndPoints">The links to keep connected, or null to keep the current ones.</param>
/// <param name="MalformedLines">Lines skipped as malformed, each reported once per new content of the list.</param>
/// <param name="ReadError">Why the list could not be read, reported once per new error; null when it was read.</param>
public sealed record IssuerLinkList(IReadOnlyList<EndPoint>? EndPoints, IReadOnlyList<string> MalformedLines, string? ReadError = null);

/// <summary>Where the scheme learns which issuer link instances exist; read at start and every refresh interval.</summary>
public interface IIssuerLinkSource
{
    /// <summary>Reads the list now. Never throws for bad content: it reports it.</summary>
    IssuerLinkList Read();
}

/// <summary>A list that never changes (<c>--link a:1,b:2</c>, or the one link of <c>bulwark run</c>).</summary>
public sealed class FixedIssuerLinks(IReadOnlyList<EndPoint> endPoints) : IIssuerLinkSource
{
    private readonly IssuerLinkList _list = new([.. endPoints], []);

    /// <inheritdoc/>
    public IssuerLinkList Read() => _list;
}

/// <summary>
/// A file of <c>host:port</c> lines (<c>--links-file</c>), as a cluster supervisor writes it for
/// the card processor instances it runs. Blank lines and lines starting with <c>#</c> are ignored;
/// malformed lines, and lines past <see cref="CardNetworkLimits.IssuerLinksMax"/> links, are skipped
/// and reported; an empty file means no links (the scheme stands in). A missing or unreadable file,
/// or one over <see cref="CardNetworkLimits.LinksFileBytesMax"/>, keeps the links already known and
/// is reported, once per error.
/// </summary>
public sealed class IssuerLinksFile(string path) : IIssuerLinkSource
{
    private readonly Lock _lock = new();
    private string? _lastContent;
    private string? _lastError;

    /// <summary>The file read.</summary>
    public string Path { get; } = path;

    /// <inheritdoc/>
    public IssuerLinkList Read()
    {
        string content;
        try
        {
            content = new FileInfo(Path) is { Exists: true, Length: > CardNetworkLimits.LinksFileBytesMax } large
                ? throw new IOException($"it has {large.Length:N0} bytes, more than {CardNetworkLimits.LinksFileBytesMax:N0}")
                : File.ReadAllText(Path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            lock (_lock)
            {
                var message = error is FileNotFoundException or DirectoryNotFoundException ? $"{Path} does not exist" : $"{Path} cannot be read: {error.Message}";
                var isNew = !string.Equals(message, _lastError, StringComparison.Ordinal);
                _lastError = message;
                return new IssuerLinkList(null, [], isNew ? message : null);
            }
        }

        lock (_lock)
        {
            _lastError = null;
            var isNewContent = !string.Equals(content, _lastContent, StringComparison.Ordinal);
            _lastContent = content;
            var (endPoints, malformed) = Parse(content);
            return new IssuerLinkList(endPoints, isNewContent ? malformed : []);
        }
    }

    /// <summary>The endpoints of a links file's content, and its malformed lines (with their line numbers).</summary>
    public static (IReadOnlyList<EndPoint> EndPoints, IReadOnlyList<string> MalformedLines) Parse(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var endPoints = new List<EndPoint>();
        var malformed = new List<string>();
        var lines = content.Split('\n');
        for (var index = 0; index < lines.Length; index++)
        {
            var line = lines[index].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (endPoints.Count == CardNetworkLimits.IssuerLinksMax)
            {
                malformed.Add($"line {index + 1}: more than {CardNetworkLimits.IssuerLinksMax} links; skipped");
            }
            else if (IssuerLinkAddresses.TryParse(line, out var endPoint, out var error))
            {
                endPoints.Add(endPoint!);
            }
            else
            {
                malformed.Add($"line {index + 1}: {error}");
            }
        }

        return (endPoints, malformed);
    }
}
