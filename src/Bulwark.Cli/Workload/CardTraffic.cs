using System.Globalization;
using System.Net;
using Bulwark.CardNetwork;
using Bulwark.CardNetwork.Traffic;
using Bulwark.Cli.Demo;

namespace Bulwark.Cli.Workload;

/// <summary>
/// Card traffic for <c>bulwark run</c>: the scheme simulator, a peer outside the bank, connected
/// over real TCP to the bank's own card link and sending authorisations for the demo cards at a
/// fixed rate, open loop. The latest interval and the whole run's result are kept for the status
/// line and the summary.
/// </summary>
public sealed class CardTraffic
{
    /// <summary>Approvals kept in memory for the end-of-run clearing file at most (about 200 bytes each).</summary>
    public const int ClearingRecordsMax = 200_000;

    /// <summary>
    /// How often a long run writes the approvals so far to a clearing file, so that the approvals
    /// kept in memory stay far below <see cref="ClearingRecordsMax"/> (60,000 at 100/s).
    /// </summary>
    public static readonly TimeSpan ClearingFileInterval = TimeSpan.FromMinutes(10);

    private readonly SchemeSimulator _simulator;
    private readonly string? _clearingDirectory;
    private SchemeProgress? _progress;
    private long _previousScheduled;

    public CardTraffic(IPEndPoint cardLink, DemoPopulation population, int ratePerSecond, int seed, string? clearingDirectory)
    {
        ArgumentNullException.ThrowIfNull(population);
        ArgumentOutOfRangeException.ThrowIfLessThan(ratePerSecond, 1);
        _clearingDirectory = clearingDirectory;
        _simulator = new SchemeSimulator(new SchemeSimulatorOptions
        {
            IssuerEndPoint = cardLink,
            Cards = Cards(population),
            RatePerSecond = ratePerSecond,
            Duration = null,
            Seed = seed,
            ClearingDirectory = clearingDirectory,
            ClearingRecordsMax = ClearingRecordsMax,
        });
    }

    /// <summary>The demo cards as the scheme knows them: the seeder's PANs and expiry.</summary>
    public static IReadOnlyList<SchemeCard> Cards(DemoPopulation population)
    {
        ArgumentNullException.ThrowIfNull(population);
        var expiryYear = population.CardExpiryYear > 0 ? population.CardExpiryYear : DemoSeeder.CardExpiryYear();
        return [.. Enumerable.Range(0, population.Customers.Count).Select(index => new SchemeCard(DemoSeeder.DemoPan(population.Seed, index), expiryYear, DemoSeeder.CardExpiryMonth))];
    }

    /// <summary>The simulator's last progress report, or null before the first.</summary>
    public SchemeProgress? Progress => Volatile.Read(ref _progress);

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled, then drains and returns what happened.</summary>
    /// <exception cref="TimeoutException">The simulator could not sign on to the card link.</exception>
    public async Task<SchemeSimulatorResult> RunAsync(CancellationToken cancellationToken)
    {
        using var stopClearing = new CancellationTokenSource();
        var clearing = _clearingDirectory is { } directory ? WriteClearingFilesAsync(directory, stopClearing.Token) : Task.CompletedTask;
        try
        {
            return await _simulator.RunAsync(progress => Volatile.Write(ref _progress, progress), cancellationToken);
        }
        finally
        {
            await stopClearing.CancelAsync();
            await clearing;
        }
    }

    private async Task WriteClearingFilesAsync(string directory, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(ClearingFileInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                _simulator.WriteClearingFiles(directory);
            }
        }
        catch (OperationCanceledException)
        {
            // The run is over: the simulator writes the rest itself.
        }
    }

    /// <summary>
    /// The status line's card part for the interval since the previous call. "scheme stand-in" is
    /// the scheme answering for a late bank; "bank stand-in" is the bank answering without its ledger.
    /// </summary>
    public string StatusSince(TimeSpan interval, long bankStandIn)
    {
        if (Progress is not { } progress)
        {
            return "cards: signing on";
        }
        var scheduled = progress.Scheduled - Interlocked.Exchange(ref _previousScheduled, progress.Scheduled);
        return string.Create(CultureInfo.InvariantCulture,
            $"cards {Math.Max(0, scheduled) / interval.TotalSeconds,5:0} auth/s  p50 {progress.Interval.P50Milliseconds,5:0.0} ms  p99 {progress.Interval.P99Milliseconds,5:0.0} ms  approved {progress.Approved:N0}  declined {progress.Declined:N0}  stand-in scheme {progress.StandIn:N0} bank {bankStandIn:N0}  timeouts {progress.TimedOut:N0}");
    }

    /// <summary>
    /// The summary's card lines. <paramref name="bankStandIn"/> counts the bank's own stand-in
    /// decisions when the bank runs in this process; null (a scheme against a cluster) leaves it out.
    /// </summary>
    public static IEnumerable<string> Describe(SchemeSimulatorResult result, long? bankStandIn = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        var standIn = bankStandIn is { } bank
            ? string.Create(CultureInfo.InvariantCulture, $"{result.StandInApproved + result.StandInDeclined:N0} scheme stand-in, {bank:N0} bank stand-in")
            : string.Create(CultureInfo.InvariantCulture, $"{result.StandInApproved + result.StandInDeclined:N0} stand-in");
        yield return string.Create(CultureInfo.InvariantCulture,
            $"Cards: {result.Scheduled:N0} authorisations ({result.AchievedRatePerSecond:0.0}/s) over ISO 8583: {result.Approved:N0} approved, {result.Declined:N0} declined, {standIn}, {result.TimedOut:N0} timeouts; {result.Reversals.Acknowledged:N0} reversals, {result.Advices.Acknowledged:N0} advices");
        yield return string.Create(CultureInfo.InvariantCulture,
            $"Card latency: p50 {result.Latency.P50Milliseconds:0.00} ms, p99 {result.Latency.P99Milliseconds:0.00} ms, p99.9 {result.Latency.P999Milliseconds:0.00} ms, max {result.Latency.MaxMilliseconds:0.00} ms");
    }

    /// <summary>
    /// The summary's line on the card journal at shutdown: decisions the card processor gave (its
    /// stand-in approvals, the scheme's advices) that the ledger does not hold yet. The next start
    /// posts them.
    /// </summary>
    public static string DescribeJournal(long waitingForLedger) => waitingForLedger switch
    {
        0 => "Card journal: every decision is in the ledger",
        1 => "Card journal: 1 decision waits for the ledger (the next start posts it)",
        _ => string.Create(CultureInfo.InvariantCulture, $"Card journal: {waitingForLedger:N0} decisions wait for the ledger (the next start posts them)"),
    };
}
