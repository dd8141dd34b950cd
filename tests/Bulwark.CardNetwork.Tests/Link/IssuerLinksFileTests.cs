using Bulwark.CardNetwork.Link;

namespace Bulwark.CardNetwork.Tests.Link;

public sealed class IssuerLinksFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("bulwark-links-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Parse_CommentsBlankAndMalformedLines_KeepsGoodOnesAndNamesBadLines()
    {
        var (endPoints, malformed) = IssuerLinksFile.Parse("# cards instances\n127.0.0.1:7400\r\n\n  nonsense \n127.0.0.1:7401\n127.0.0.1:99999\n");

        Assert.Equal(["127.0.0.1:7400", "127.0.0.1:7401"], endPoints.Select(IssuerLinkAddresses.Format));
        Assert.Equal(2, malformed.Count);
        Assert.StartsWith("line 4:", malformed[0], StringComparison.Ordinal);
        Assert.StartsWith("line 6:", malformed[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Read_SameContentTwice_ReportsMalformedLinesOnceButKeepsTheLinks()
    {
        var path = Path.Combine(_directory, "links");
        File.WriteAllText(path, "127.0.0.1:7400\ngarbage\n");
        var file = new IssuerLinksFile(path);

        var first = file.Read();
        var second = file.Read();

        Assert.Single(first.MalformedLines);
        Assert.Empty(second.MalformedLines);
        Assert.Single(second.EndPoints!);
    }

    [Fact]
    public void Parse_MoreLinksThanTheLimit_KeepsTheFirstAndReportsTheRest()
    {
        var content = string.Join('\n', Enumerable.Range(1, CardNetworkLimits.IssuerLinksMax + 6).Select(port => $"127.0.0.1:{port}"));

        var (endPoints, malformed) = IssuerLinksFile.Parse(content);

        Assert.Equal(CardNetworkLimits.IssuerLinksMax, endPoints.Count);
        Assert.Equal(6, malformed.Count);
    }

    [Fact]
    public void Read_FileOverTheSizeLimit_KeepsTheLinksKnown()
    {
        var path = Path.Combine(_directory, "links");
        File.WriteAllText(path, new string('#', CardNetworkLimits.LinksFileBytesMax + 1));

        var list = new IssuerLinksFile(path).Read();

        Assert.Null(list.EndPoints);
        Assert.Contains("more than", list.ReadError, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_EmptyFile_MeansNoLinks()
    {
        var path = Path.Combine(_directory, "links");
        File.WriteAllText(path, string.Empty);

        var list = new IssuerLinksFile(path).Read();

        Assert.NotNull(list.EndPoints);
        Assert.Empty(list.EndPoints);
        Assert.Null(list.ReadError);
    }

    [Fact]
    public void Read_MissingFile_KeepsTheLinksKnownAndReportsOnce()
    {
        var file = new IssuerLinksFile(Path.Combine(_directory, "absent"));

        var first = file.Read();
        var second = file.Read();

        Assert.Null(first.EndPoints);
        Assert.Contains("does not exist", first.ReadError, StringComparison.Ordinal);
        Assert.Null(second.EndPoints);
        Assert.Null(second.ReadError);
    }
}
