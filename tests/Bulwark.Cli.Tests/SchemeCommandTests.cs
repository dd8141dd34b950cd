using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Bulwark.Cli.Commands;
using Bulwark.Cli.Demo;
using Bulwark.Iso8583;

namespace Bulwark.Cli.Tests;

/// <summary><c>bulwark scheme run</c>: its inputs, and short runs against issuer links that answer everything.</summary>
public sealed class SchemeCommandTests : IDisposable
{
    private static readonly TimeSpan RunMax = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("bulwark-scheme-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Parse_SchemeRun_IsRegistered()
    {
        var result = BulwarkCommandLine.Create().Parse(["scheme", "run", "--link", "127.0.0.1:7400", "--population", "p.json", "--rate", "10", "--for", "1s", "--seed", "3"]);

        Assert.Empty(result.Errors);
        Assert.Equal("run", result.CommandResult.Command.Name);
    }

    [Theory]
    [InlineData("--link", null, null, "--link")]
    [InlineData("--link", "nonsense", null, "--link")]
    [InlineData("--link", "127.0.0.1:0", null, "--link")]
    [InlineData("--link", "127.0.0.1:7400,", null, "--link")]
    [InlineData("--link", "127.0.0.1:7400", "0", "--rate")]
    [InlineData("--link", "127.0.0.1:7400", "200000", "--rate")]
    [InlineData("--link", "127.0.0.1:7400", "fast", "--rate")]
    [InlineData("--links-file", "", null, "--links-file")]
    public async Task Run_BadLinkOrRate_ExitsTwoWithOneLineNamingTheOption(string option, string? value, string? rate, string named)
    {
        var inputs = new SchemeCommand.Inputs(
            option == "--link" ? value : null,
            option == "--links-file" ? value : null,
            WritePopulation(),
            rate,
            For: "1s",
            Clearing: null,
            Seed: null);

        var (exit, output, error) = await RunAsync(inputs);

        Assert.Equal(2, exit);
        Assert.Empty(output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("bulwark scheme run: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_MoreLinksThanTheLimit_ExitsTwo()
    {
        var links = string.Join(',', Enumerable.Range(1, 65).Select(port => $"127.0.0.1:{port}"));

        var (exit, _, error) = await RunAsync(new SchemeCommand.Inputs(links, null, WritePopulation(), null, "1s", null, null));

        Assert.Equal(2, exit);
        Assert.Contains("--link: 65 links", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_BothLinkAndLinksFile_ExitsTwo()
    {
        var (exit, _, error) = await RunAsync(new SchemeCommand.Inputs("127.0.0.1:7400", "links", WritePopulation(), null, "1s", null, null));

        Assert.Equal(2, exit);
        Assert.Contains("not both", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("absent.json")]
    [InlineData("malformed")]
    [InlineData("empty")]
    public async Task Run_UnreadablePopulation_ExitsTwoWithOneLine(string? population)
    {
        var path = population switch
        {
            null => null,
            "malformed" => Write("population.json", "{ this is not json"),
            "empty" => Write("population.json", "{\"seed\": 1, \"customers\": []}"),
            _ => Path.Combine(_directory, population),
        };

        var (exit, output, error) = await RunAsync(new SchemeCommand.Inputs("127.0.0.1:7400", null, path, null, "1s", null, null));

        Assert.Equal(2, exit);
        Assert.Empty(output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("--population", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_BadDuration_ExitsTwo()
    {
        var (exit, _, error) = await RunAsync(new SchemeCommand.Inputs("127.0.0.1:7400", null, WritePopulation(), null, "soon", null, null));

        Assert.Equal(2, exit);
        Assert.Contains("--for", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_TwoLinks_EveryCardDecidedByOneLink_StatusSummaryAndClearingFile()
    {
        await using var a = new AnsweringIssuer();
        await using var b = new AnsweringIssuer();
        var clearing = Path.Combine(_directory, "clearing");
        var inputs = new SchemeCommand.Inputs($"{a.EndPoint},{b.EndPoint}", null, WritePopulation(customers: 30), "50", "2s", clearing, null);

        var (exit, output, error) = await RunAsync(inputs);

        Assert.True(exit == 0, error);
        Assert.Contains("links 2/2 up", output, StringComparison.Ordinal);
        Assert.Contains("Cards: 100 authorisations", output, StringComparison.Ordinal);
        Assert.Contains("Issuer response codes: 00 x 100", output, StringComparison.Ordinal);
        Assert.Contains($"Link {a.EndPoint}: up", output, StringComparison.Ordinal);
        Assert.Contains($"Link {b.EndPoint}: up", output, StringComparison.Ordinal);
        Assert.NotEmpty(a.Pans);
        Assert.NotEmpty(b.Pans);
        Assert.Empty(a.Pans.Intersect(b.Pans));
        Assert.Single(Directory.GetFiles(clearing, "clearing-*.txt"));
        Assert.Contains("Clearing file: ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_EmptyLinksFileWithMalformedLine_StandsInAndWarns_ExitsZero()
    {
        var links = Write("links", "# no instance yet\nnot-a-link\n");

        var (exit, output, error) = await RunAsync(new SchemeCommand.Inputs(null, links, WritePopulation(), "20", "1s", null, null));

        Assert.Equal(0, exit);
        Assert.Contains("links 0/0 up", output, StringComparison.Ordinal);
        Assert.Contains("20 stand-in", output, StringComparison.Ordinal);
        Assert.Contains("1 malformed lines skipped", output, StringComparison.Ordinal);
        Assert.Contains("warning: ", error, StringComparison.Ordinal);
        Assert.Contains("not-a-link", error, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(SchemeCommand.Inputs inputs)
    {
        using var timeout = new CancellationTokenSource(RunMax);
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await SchemeCommand.RunAsync(inputs, output, error, TimeSpan.FromMilliseconds(500), timeout.Token).WaitAsync(RunMax);
        return (exit, output.ToString(), error.ToString());
    }

    private string WritePopulation(int customers = 5)
    {
        var population = new DemoPopulation(7, [.. Enumerable.Range(0, customers).Select(index => new DemoCustomer($"c{index}", "Name", "e@example.com", "a", "00000000000000000000000000000001", "040004", "12345678", "p", "00000000000000000000000000000002"))])
        {
            CardExpiryYear = DateTime.UtcNow.Year + 3,
        };
        var path = Path.Combine(_directory, "demo-population.json");
        population.Save(path);
        return path;
    }

    private string Write(string name, string content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>An issuer card link that answers every request 00 and remembers the PANs it authorised.</summary>
    private sealed class AnsweringIssuer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stopping = new();
        private readonly ConcurrentDictionary<string, byte> _pans = new();
        private readonly ConcurrentBag<Socket> _sockets = [];
        private readonly Task _accepting;

        public AnsweringIssuer()
        {
            _listener.Start();
            EndPoint = (IPEndPoint)_listener.LocalEndpoint;
            _accepting = AcceptAsync();
        }

        public IPEndPoint EndPoint { get; }

        public IReadOnlyCollection<string> Pans => [.. _pans.Keys];

        public async ValueTask DisposeAsync()
        {
            await _stopping.CancelAsync();
            _listener.Stop();
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }

            await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stopping.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stopping.IsCancellationRequested)
            {
                var socket = await _listener.AcceptSocketAsync(_stopping.Token);
                _sockets.Add(socket);
                _ = ServeAsync(socket);
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            var stream = new NetworkStream(socket, ownsSocket: false);
            var reader = PipeReader.Create(stream);
            var writeLock = new SemaphoreSlim(1, 1);
            try
            {
                while (true)
                {
                    var result = await reader.ReadAsync(_stopping.Token);
                    var buffer = result.Buffer;
                    while (Iso8583Framing.TryReadFrame(ref buffer, out var frame, out _) == Iso8583FrameStatus.Frame)
                    {
                        var request = Iso8583Message.Parse(frame);
                        if (request.Mti == MessageTypeIndicator.AuthorizationRequest)
                        {
                            _pans.TryAdd(request.GetPrimaryAccountNumber(), 0);
                        }

                        var response = Iso8583MessageBuilder.CreateResponse(request).Set(Iso8583Fields.ResponseCode, Iso8583ResponseCodes.Approved);
                        if (request.Mti == MessageTypeIndicator.AuthorizationRequest)
                        {
                            response.Set(Iso8583Fields.AuthorizationIdResponse, "A00001");
                        }

                        var bytes = new byte[Iso8583Limits.FrameHeaderBytes + response.GetEncodedLength()];
                        response.WriteFrameTo(bytes);
                        await writeLock.WaitAsync(_stopping.Token);
                        try
                        {
                            await stream.WriteAsync(bytes, _stopping.Token);
                        }
                        finally
                        {
                            writeLock.Release();
                        }
                    }

                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        return;
                    }
                }
            }
            catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The scheme went away, or the test ended.
            }
            finally
            {
                socket.Dispose();
            }
        }
    }
}
