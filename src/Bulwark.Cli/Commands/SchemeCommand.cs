using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Bulwark.CardNetwork;
using Bulwark.CardNetwork.Link;
using Bulwark.Cli.Demo;
using Bulwark.Cli.Workload;
using Microsoft.Extensions.Logging;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark scheme run</c>: the card scheme simulator as its own process, outside the bank, as a
/// real scheme is. It connects to every instance of the issuer's card link (a fixed <c>--link</c>
/// list, or a <c>--links-file</c> re-read every second), sends authorisations for the demo
/// population's cards at <c>--rate</c>, each card to one instance, and writes its clearing files.
/// </summary>
internal static class SchemeCommand
{
    public const double RateDefault = 100;

    /// <summary>
    /// Requests in a row a link may lose to timeouts before its instance is taken as hung and the
    /// link re-established, its cards moving to the other instances meanwhile. At 100 authorisations
    /// a second over two links, about half a second of silence past the response deadline.
    /// </summary>
    public const int LinkTimeoutsInARowMax = 20;

    /// <summary>
    /// Echo interval of each link: a dead instance whose TCP connection stays open (a paused VM, a
    /// lost route) is noticed after two unanswered echoes, about 10 s, instead of the default minute.
    /// </summary>
    public static readonly TimeSpan EchoInterval = TimeSpan.FromSeconds(5);

    /// <summary>How long the start waits for a first link before it runs anyway, standing in.</summary>
    public static readonly TimeSpan FirstSignOnWait = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan StatusInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RedirectedStatusInterval = TimeSpan.FromSeconds(5);

    public static Command Create()
    {
        var scheme = new Command("scheme", "The card scheme simulator, as a process of its own outside the bank.");
        scheme.Subcommands.Add(Run());
        return scheme;
    }

    /// <summary>The command's inputs as typed: checked by <see cref="TryCreateSettings"/>, so every bad one ends with exit code 2 and one line.</summary>
    internal sealed record Inputs(string? Link, string? LinksFile, string? Population, string? Rate, string? For, string? Clearing, int? Seed);

    /// <summary>Checked settings of one run.</summary>
    internal sealed record Settings(
        IReadOnlyList<EndPoint>? Links,
        string? LinksFile,
        DemoPopulation Population,
        double Rate,
        TimeSpan? For,
        string? Clearing,
        int Seed);

    private static Command Run()
    {
        var link = new Option<string?>("--link") { Description = "The issuer's card link instances, host:port[,host:port...], e.g. 127.0.0.1:7400,127.0.0.1:7401." };
        var linksFile = new Option<string?>("--links-file") { Description = "A file of host:port lines (# comments), re-read every second: instances added or removed while running. An empty file means no link: the scheme stands in." };
        var population = new Option<string?>("--population") { Description = "The demo population JSON (DATA/demo-population.json, as bulwark run writes it): the cards to authorise." };
        var rate = new Option<string?>("--rate") { Description = $"Authorisations per second, open loop, above 0 and at most {CardNetworkLimits.RatePerSecondMax:N0}. Default: {RateDefault}." };
        var duration = new Option<string?>("--for") { Description = "Stop by itself after this long, e.g. 30s. Default: run until Ctrl-C or SIGTERM." };
        var clearing = new Option<string?>("--clearing") { Description = "The scheme's own directory for clearing files (written each UTC day and at the end). Default: none written." };
        var seed = new Option<int?>("--seed") { Description = "Seed of the traffic (merchants, amounts, cards). Default: the population's seed." };
        var command = new Command("run", "Send card authorisations to every instance of the issuer's card link (ISO 8583 over TCP), each card to one instance, standing in when none answers.")
        {
            link, linksFile, population, rate, duration, clearing, seed,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(
            new Inputs(parse.GetValue(link), parse.GetValue(linksFile), parse.GetValue(population), parse.GetValue(rate), parse.GetValue(duration), parse.GetValue(clearing), parse.GetValue(seed)),
            Console.Out,
            Console.Error,
            Console.IsOutputRedirected ? RedirectedStatusInterval : StatusInterval,
            cancellationToken));
        return command;
    }

    /// <summary>Checks the inputs and runs; 0 after a clean stop, 2 with one line on <paramref name="error"/> for bad input.</summary>
    internal static async Task<int> RunAsync(Inputs inputs, TextWriter output, TextWriter error, TimeSpan statusInterval, CancellationToken cancellationToken)
    {
        var (settings, problem) = TryCreateSettings(inputs);
        if (settings is null)
        {
            await error.WriteLineAsync($"bulwark scheme run: {problem}");
            return 2;
        }

        return await RunAsync(settings, output, error, statusInterval, cancellationToken);
    }

    internal static (Settings? Settings, string? Error) TryCreateSettings(Inputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Link is not null && inputs.LinksFile is not null)
        {
            return (null, "give --link or --links-file, not both.");
        }

        if (inputs.Link is null && inputs.LinksFile is null)
        {
            return (null, "give the issuer's card links: --link host:port[,host:port...] or --links-file PATH.");
        }

        IReadOnlyList<EndPoint>? links = null;
        if (inputs.Link is not null && !IssuerLinkAddresses.TryParseList(inputs.Link, out links, out var linkError))
        {
            return (null, $"--link: {linkError}.");
        }

        if (links is { Count: > CardNetworkLimits.IssuerLinksMax })
        {
            return (null, $"--link: {links.Count} links, more than {CardNetworkLimits.IssuerLinksMax}.");
        }

        if (inputs.LinksFile is { Length: 0 })
        {
            return (null, "--links-file: give a path.");
        }

        var rate = RateDefault;
        if (inputs.Rate is not null
            && (!double.TryParse(inputs.Rate, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out rate) || !(rate > 0) || rate > CardNetworkLimits.RatePerSecondMax))
        {
            return (null, $"--rate: '{inputs.Rate}' is not a rate: use authorisations per second above 0 and at most {CardNetworkLimits.RatePerSecondMax:N0}.");
        }

        TimeSpan? duration = null;
        if (inputs.For is not null)
        {
            if (!CommonOptions.TryParseDuration(inputs.For, out var parsed))
            {
                return (null, $"--for: '{inputs.For}' is not a duration: use a positive number with ms, s, m or h, e.g. 30s.");
            }

            duration = parsed;
        }

        var (population, populationError) = LoadPopulation(inputs.Population);
        if (population is null)
        {
            return (null, populationError);
        }

        return (new Settings(links, inputs.LinksFile, population, rate, duration, inputs.Clearing, inputs.Seed ?? population.Seed), null);
    }

    private static (DemoPopulation? Population, string? Error) LoadPopulation(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return (null, "give the cards: --population FILE (the demo population JSON, e.g. .bulwark/demo-population.json).");
        }

        try
        {
            return DemoPopulation.TryLoad(path) is { } population
                ? (population, null)
                : (null, $"--population: {Path.GetFullPath(path)} does not exist or has no customers.");
        }
        catch (Exception unreadable) when (unreadable is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            return (null, $"--population: cannot read {Path.GetFullPath(path)}: {unreadable.Message.ReplaceLineEndings(" ")}");
        }
    }

    private static async Task<int> RunAsync(Settings settings, TextWriter output, TextWriter error, TimeSpan statusInterval, CancellationToken cancellationToken)
    {
        var cards = CardTraffic.Cards(settings.Population);
        var options = new SchemeSimulatorOptions
        {
            IssuerEndPoints = settings.Links,
            IssuerLinkSource = settings.LinksFile is { } path ? new IssuerLinksFile(path) : null,
            Cards = cards,
            RatePerSecond = settings.Rate,
            Duration = settings.For,
            Seed = settings.Seed,
            SignOnRequired = false,
            SignOnTimeout = FirstSignOnWait,
            EchoInterval = EchoInterval,
            LinkTimeoutsInARowMax = LinkTimeoutsInARowMax,
            KeepApprovalsForClearing = settings.Clearing is not null,
            ClearingDirectory = settings.Clearing,
            ClearingRecordsMax = CardTraffic.ClearingRecordsMax,
            ProgressInterval = statusInterval,
        };
        var links = settings.LinksFile is { } file ? $"the links in {Path.GetFullPath(file)} (re-read every second)" : string.Join(", ", settings.Links!.Select(IssuerLinkAddresses.Format));
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Scheme simulator: {cards.Count:N0} cards, {settings.Rate:0.#} authorisations/s, seed {settings.Seed}, to {links}{(settings.For is { } length ? $", for {length.TotalSeconds:0.#} s" : ", until Ctrl-C")}"));
        using var loggers = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Warning).AddProvider(new WriterLoggerProvider(TextWriter.Synchronized(error))));
        var simulator = new SchemeSimulator(options, loggerFactory: loggers);
        long previousScheduled = 0;
        var result = await simulator.RunAsync(
            progress =>
            {
                output.WriteLine(Status(progress, progress.Scheduled - previousScheduled, statusInterval));
                previousScheduled = progress.Scheduled;
            },
            cancellationToken);
        foreach (var line in Summary(result))
        {
            await output.WriteLineAsync(line);
        }

        if (settings.Clearing is { } clearing && Directory.Exists(clearing))
        {
            foreach (var written in Directory.EnumerateFiles(clearing, "clearing-*.txt").Where(name => File.GetLastWriteTimeUtc(name) >= result.StartedAt.UtcDateTime.AddSeconds(-1)).Order(StringComparer.Ordinal))
            {
                await output.WriteLineAsync($"Clearing file: {written}");
            }
        }

        return 0;
    }

    /// <summary>One status line: the interval's rate and latency, the run's counts, and the links up.</summary>
    internal static string Status(SchemeProgress progress, long scheduledInInterval, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(progress);
        return string.Create(CultureInfo.InvariantCulture,
            $"  {progress.Elapsed.TotalSeconds,5:0}s  cards {Math.Max(0, scheduledInInterval) / interval.TotalSeconds,5:0} auth/s  p50 {progress.Interval.P50Milliseconds,5:0.0} ms  p99 {progress.Interval.P99Milliseconds,5:0.0} ms  approved {progress.Approved:N0}  declined {progress.Declined:N0}  stand-in {progress.StandIn:N0}  timeouts {progress.TimedOut:N0}  links {progress.LinksUp}/{progress.LinksKnown} up");
    }

    /// <summary>The summary: the card lines of <c>bulwark run</c>, then one line per link.</summary>
    internal static IEnumerable<string> Summary(SchemeSimulatorResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        foreach (var line in CardTraffic.Describe(result))
        {
            yield return line;
        }

        if (result.ResponseCodes.Count > 0)
        {
            yield return "Issuer response codes: " + string.Join(", ", result.ResponseCodes.OrderBy(code => code.Key, StringComparer.Ordinal).Select(code => string.Create(CultureInfo.InvariantCulture, $"{code.Key} x {code.Value:N0}")));
        }

        foreach (var link in result.Links)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"Link {link.Name}{(link.Removed ? " (removed)" : string.Empty)}: {(link.IsUp ? "up" : "down")}, sent {link.Sent:N0}, answered {link.Answered:N0}, timed out {link.TimedOut:N0}, up {link.Ups:N0} times, down {link.Downs:N0} times");
        }

        if (result.Links.Count == 0)
        {
            yield return "Links: none was known; every authorisation was stood in for.";
        }

        if (result.LinkListMalformedLines > 0 || result.LinkListReadErrors > 0)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"Link list: {result.LinkListMalformedLines:N0} malformed lines skipped, {result.LinkListReadErrors:N0} times unreadable (the links known were kept)");
        }
    }

    /// <summary>Warnings and errors as one line each on the command's error writer: no console logging stack for a tool.</summary>
    private sealed class WriterLoggerProvider(TextWriter writer) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new WriterLogger(writer);

        public void Dispose()
        {
        }

        private sealed class WriterLogger(TextWriter writer) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    writer.WriteLine($"{(logLevel >= LogLevel.Error ? "error" : "warning")}: {formatter(state, exception)}");
                }
            }
        }
    }
}
