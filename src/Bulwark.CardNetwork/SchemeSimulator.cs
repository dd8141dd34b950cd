using System.Collections.Concurrent;
using System.Globalization;
using Bulwark.CardNetwork.Clearing;
using Bulwark.CardNetwork.Link;
using Bulwark.CardNetwork.Traffic;
using Bulwark.Iso8583;
using HdrHistogram;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.CardNetwork;

/// <summary>
/// The card scheme, simulated: signs on to the issuer, sends authorisations for its cards from a
/// population of merchants at a target rate — open loop, on schedule whether or not earlier ones
/// were answered — and does what a scheme does with the answers: stands in when the issuer is
/// late, advises the issuer of stand-in decisions, reverses cancelled and timed-out
/// authorisations, and keeps the approvals for the clearing file. Latency is measured from the
/// scheduled send time, so a slow issuer cannot hide its delay by slowing the sender.
/// </summary>
public sealed partial class SchemeSimulator
{
    private readonly SchemeSimulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly MerchantPopulation _merchants;
    private readonly Lock _histogramLock = new();
    private readonly RunCounters _counters = new();
    private readonly RunCounters _warmupCounters = new();
    private readonly Random _random;
    private readonly Iso8583MessageBuilder _builder = new(MessageTypeIndicator.AuthorizationRequest);
    private readonly ConcurrentQueue<AuthorizationRecord> _approvals = new();
    private readonly Lock _clearingLock = new();
    private readonly TimeZoneInfo _merchantZone;
    private LongHistogram _interval = new(CardNetworkLimits.LatencyMicrosecondsMax, 3);
    private SchemeLinkPool? _links;
    private StoreAndForwardQueue? _storeAndForward;
    private int _started;
    private long _outstanding;
    private long _approvalsKept;
    private int _standInCodes;
    private LinkListWatcher? _linkList;

    /// <summary>Creates a simulator; <see cref="RunAsync"/> runs it once.</summary>
    public SchemeSimulator(SchemeSimulatorOptions options, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _loggers = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggers.CreateLogger<SchemeSimulator>();
        _merchants = MerchantPopulation.Create(options.MerchantCount, options.Seed);
        _random = new Random(options.Seed);
        _merchantZone = TimeZoneInfo.TryFindSystemTimeZoneById("Europe/London", out var london) ? london : TimeZoneInfo.Utc;
    }

    /// <summary>The merchant population authorisations come from.</summary>
    public MerchantPopulation Merchants => _merchants;

    /// <summary>
    /// Approvals the scheme saw and did not reverse (issuer and stand-in), in the order they were
    /// decided: the input of the clearing file.
    /// </summary>
    public IReadOnlyList<AuthorizationRecord> Approvals => [.. _approvals];

    /// <summary>
    /// One clearing file per UTC day of the approvals kept so far (<see cref="Approvals"/>), as
    /// <see cref="ClearingFileGenerator"/> makes them; write each with <see cref="ClearingFileFormat"/>.
    /// </summary>
    public IReadOnlyList<ClearingFile> CreateClearingFiles(ClearingOptions? options = null, DateTimeOffset? createdAt = null)
    {
        var approvals = Approvals;
        return [.. approvals
            .Select(approval => DateOnly.FromDateTime(approval.TransmittedAt.UtcDateTime))
            .Distinct()
            .Order()
            .Select(day => ClearingFileGenerator.Generate(day, approvals, _options.Cards, _merchants, options, _options.Seed + day.DayNumber, createdAt ?? _time.GetUtcNow()))];
    }

    /// <summary>
    /// Writes a clearing file per UTC day of the approvals not yet presented into
    /// <paramref name="directory"/> — only days before today when <paramref name="completedDaysOnly"/> —
    /// and forgets those approvals, so nothing is presented twice. A day that already has files gets
    /// the next sequence number (<c>clearing-YYYYMMDD-02.txt</c>). Returns the paths written.
    /// </summary>
    public IReadOnlyList<string> WriteClearingFiles(string directory, bool completedDaysOnly = false, ClearingOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var today = DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);
        var paths = new List<string>();
        lock (_clearingLock)
        {
            var taken = new List<AuthorizationRecord>();
            var keep = new List<AuthorizationRecord>();
            while (_approvals.TryDequeue(out var approval))
            {
                var day = DateOnly.FromDateTime(approval.TransmittedAt.UtcDateTime);
                (completedDaysOnly && day >= today ? keep : taken).Add(approval);
            }

            foreach (var approval in keep)
            {
                _approvals.Enqueue(approval);
            }

            foreach (var day in taken.Select(a => DateOnly.FromDateTime(a.TransmittedAt.UtcDateTime)).Distinct().Order())
            {
                Directory.CreateDirectory(directory);
                var sequence = Directory.GetFiles(directory, string.Create(CultureInfo.InvariantCulture, $"clearing-{day:yyyyMMdd}-*.txt")).Length + 1;
                var file = ClearingFileGenerator.Generate(day, taken, _options.Cards, _merchants, options, _options.Seed + day.DayNumber + (sequence * 7919), _time.GetUtcNow(), sequence);
                paths.Add(ClearingFileFormat.WriteToDirectory(file, directory));
            }
        }

        return paths;
    }

    /// <summary>
    /// Runs the schedule for <see cref="SchemeSimulatorOptions.Duration"/> (or until cancelled),
    /// waits for the last answers and for advices and reversals to be acknowledged (up to
    /// <see cref="SchemeSimulatorOptions.DrainTimeout"/>), then returns what happened. Cancelling
    /// ends the schedule early and still returns the result.
    /// </summary>
    /// <exception cref="TimeoutException">The link did not sign on within <see cref="SchemeSimulatorOptions.SignOnTimeout"/>.</exception>
    public async Task<SchemeSimulatorResult> RunAsync(Action<SchemeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A simulator runs once; create another for another run.");
        }

        await using var links = new SchemeLinkPool(_options.ToLinkOptions, _time, _loggers);
        _links = links;
        var linkList = new LinkListWatcher(_options.LinkSource(), links, _loggers.CreateLogger<LinkListWatcher>());
        _linkList = linkList;
        linkList.Refresh();
        await WaitForFirstSignOnAsync(links, cancellationToken).ConfigureAwait(false);
        using var stopRefresh = new CancellationTokenSource();
        var refreshing = _options.IssuerLinkSource is null ? Task.CompletedTask : linkList.RunAsync(_options.LinkListRefreshInterval, _time, stopRefresh.Token);

        _storeAndForward = new StoreAndForwardQueue(
            links,
            _options.StoreAndForwardAttemptsMax,
            _options.StoreAndForwardRetryDelay,
            CardNetworkLimits.StoreAndForwardWindowDefault,
            CardNetworkLimits.StoreAndForwardQueueMaxDefault,
            _time);
        using var stopDelivery = new CancellationTokenSource();
        var delivery = Task.Run(() => _storeAndForward.RunAsync(stopDelivery.Token), CancellationToken.None);

        if (_options.Warmup > TimeSpan.Zero)
        {
            await ScheduleAsync(_time.GetTimestamp(), _options.Warmup, measured: false, cancellationToken).ConfigureAwait(false);
        }

        var startedAt = _time.GetUtcNow();
        var start = _time.GetTimestamp();
        using var stopProgress = new CancellationTokenSource();
        var reporting = Task.WhenAll(
            progress is null ? Task.CompletedTask : ReportProgressAsync(progress, start, stopProgress.Token),
            _options.ClearingDirectory is { } clearing ? WriteClearingAtDayEndAsync(clearing, stopProgress.Token) : Task.CompletedTask);
        await ScheduleAsync(start, _options.Duration, measured: true, cancellationToken).ConfigureAwait(false);
        var elapsed = _time.GetElapsedTime(start);

        // Every authorisation ends within its deadline; a little slack covers the deadline sweep.
        await WaitForOutstandingAsync(_options.ResponseDeadline + TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        await _storeAndForward.DrainAsync(_options.DrainTimeout, CancellationToken.None).ConfigureAwait(false);
        await stopProgress.CancelAsync().ConfigureAwait(false);
        await reporting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await stopDelivery.CancelAsync().ConfigureAwait(false);
        await delivery.ConfigureAwait(false);
        await stopRefresh.CancelAsync().ConfigureAwait(false);
        await refreshing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_options.ClearingDirectory is { } directory)
        {
            WriteClearingFiles(directory);
        }

        var result = BuildResult(startedAt, elapsed, links.GetSummaries());
        LogFinished(result.Scheduled, result.Approved, result.Declined, result.StandInApproved + result.StandInDeclined, result.TimedOut, result.Latency.P99Milliseconds);
        return result;
    }

    private async Task WaitForFirstSignOnAsync(SchemeLinkPool links, CancellationToken cancellationToken)
    {
        if (links.Count == 0 && !_options.SignOnRequired)
        {
            // Nothing to wait for: an empty list is an answer ("no links"), and the scheme stands in.
            LogNoLinkUp(0, 0);
            return;
        }

        try
        {
            await links.WaitForAnyUpAsync(cancellationToken).WaitAsync(_options.SignOnTimeout, _time, cancellationToken).ConfigureAwait(false);

            // The others get a moment too: traffic that started on the first link up would move each
            // card of the others twice in the first second (there, then back).
            var graceEnds = _time.GetTimestamp() + (long)(CardNetworkLimits.LinksSignOnGrace.TotalSeconds * _time.TimestampFrequency);
            while (links.UpCount < links.Count && _time.GetTimestamp() < graceEnds)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (TimeoutException) when (_options.SignOnRequired)
        {
            var names = links.Count == 0 ? "(no link known)" : string.Join(", ", links.Names);
            throw new TimeoutException($"The card link did not sign on to the issuer at {names} within {_options.SignOnTimeout.TotalSeconds:N0} s.");
        }
        catch (TimeoutException)
        {
            LogNoLinkUp(links.Count, _options.SignOnTimeout.TotalSeconds);
        }
        catch (OperationCanceledException) when (!_options.SignOnRequired && cancellationToken.IsCancellationRequested)
        {
            // Stopped before any link came up: a run without traffic, and still a clean stop.
        }
    }

    /// <summary>
    /// Runs the schedule on a thread of its own: a timer continuation on a busy thread pool wakes
    /// milliseconds late, and every millisecond of lateness would be charged to the issuer.
    /// </summary>
    private Task ScheduleAsync(long start, TimeSpan? duration, bool measured, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Schedule(start, duration, measured, cancellationToken);
                done.SetResult();
            }
            catch (Exception error)
            {
                done.SetException(error);
            }
        })
        {
            IsBackground = true,
            Name = "scheme-scheduler",
            Priority = ThreadPriority.AboveNormal,
        };
        thread.Start();
        return done.Task;
    }

    private void Schedule(long start, TimeSpan? duration, bool measured, CancellationToken cancellationToken)
    {
        var frequency = (double)_time.TimestampFrequency;
        var rate = _options.RatePerSecond;
        var total = duration is { } length ? (long)Math.Floor(length.TotalSeconds * rate) : long.MaxValue;
        long issued = 0;
        while (issued < total && !cancellationToken.IsCancellationRequested)
        {
            // Everything whose scheduled time has come goes now, each stamped with its scheduled time.
            var due = Math.Min(total, (long)((_time.GetTimestamp() - start) / frequency * rate) + 1);
            for (; issued < due; issued++)
            {
                Issue(_builder, _random, start + (long)(issued / rate * frequency), measured);
            }

            if (issued < total)
            {
                Thread.Sleep(1);
            }
        }
    }

    private void Issue(Iso8583MessageBuilder builder, Random random, long scheduledTimestamp, bool measured)
    {
        var links = _links!;
        var merchant = _merchants.Merchants[_merchants.Pick(random)];
        var amount = MerchantPopulation.DrawAmount(merchant, random);
        var now = _time.GetUtcNow();
        var card = _options.Cards[random.Next(_options.Cards.Count)];

        // Card affinity: the card's link among those up now; its advice and reversal follow it there.
        var link = links.Choose(card.PrimaryAccountNumber);
        var attempt = new AuthorizationAttempt
        {
            Card = card,
            LinkName = link?.Name,
            Merchant = merchant,
            AmountMinor = amount,
            PosEntryMode = EntryMode(merchant, amount, random),
            SystemsTraceAuditNumber = links.NextSystemsTraceAuditNumber(),
            RetrievalReferenceNumber = Rrns.Next(),
            TransmittedAt = now.UtcDateTime,
            LocalTime = TimeZoneInfo.ConvertTime(now, _merchantZone).DateTime,
            ScheduledTimestamp = scheduledTimestamp,
        };

        // Decided now, while the scheduler's seeded random is in hand: the run stays reproducible.
        var reverseIfApproved = random.NextDouble() < _options.ReversalShare;
        if (measured)
        {
            Interlocked.Increment(ref _counters.Scheduled);
            var lag = Math.Clamp((long)((_time.GetTimestamp() - scheduledTimestamp) * 1_000_000.0 / _time.TimestampFrequency), 1, CardNetworkLimits.LatencyMicrosecondsMax);
            lock (_histogramLock)
            {
                _counters.SendLag.RecordValue(lag);
            }
        }

        Interlocked.Increment(ref _outstanding);
        var answer = link is null
            ? Task.FromResult(new LinkResponse(LinkOutcome.NotSignedOn, null))
            : link.SendAsync(SchemeMessages.Authorization(builder, attempt, _options.AcquiringInstitutionId));
        _ = CompleteAsync(attempt, answer, reverseIfApproved, measured ? _counters : _warmupCounters);
    }

    private RetrievalReferenceNumbers Rrns { get; } = new();

    private static string EntryMode(SchemeMerchant merchant, long amount, Random random)
    {
        if (random.NextDouble() < merchant.EcommerceShare)
        {
            return PosEntryModes.Ecommerce;
        }

        // UK contactless limit: 100 pounds; below it most card-present payments are tapped.
        return amount <= 10_000 && random.NextDouble() < 0.8 ? PosEntryModes.Contactless : PosEntryModes.ChipAndPin;
    }

    private async Task CompleteAsync(AuthorizationAttempt attempt, Task<LinkResponse> answer, bool reverseIfApproved, RunCounters counters)
    {
        try
        {
            var response = await answer.ConfigureAwait(false);
            var latency = _time.GetTimestamp() - attempt.ScheduledTimestamp;
            if (response.WasSent)
            {
                Interlocked.Increment(ref counters.Sent);
            }

            if (response is { Outcome: LinkOutcome.Answered, Message: { } message })
            {
                HandleIssuerAnswer(attempt, message, reverseIfApproved, counters);
                Record(counters, latency, issuerAnswered: true);
            }
            else
            {
                StandIn(attempt, response, counters);
                Record(counters, latency, issuerAnswered: false);
            }
        }
        catch (Exception error) when (error is Iso8583FormatException or ArgumentException)
        {
            // A message the scheme builds from validated options cannot be malformed; if it is, say so loudly.
            LogBuildFailed(error, attempt.RetrievalReferenceNumber);
        }
        finally
        {
            Interlocked.Decrement(ref _outstanding);
        }
    }

    private void HandleIssuerAnswer(AuthorizationAttempt attempt, Iso8583Message message, bool reverseIfApproved, RunCounters counters)
    {
        var code = message.TryGetString(Iso8583Fields.ResponseCode, out var value) ? value : "--";
        counters.ResponseCodes.AddOrUpdate(code, 1, (_, count) => count + 1);
        if (code != Iso8583ResponseCodes.Approved)
        {
            Interlocked.Increment(ref counters.Declined);
            return;
        }

        Interlocked.Increment(ref counters.Approved);
        if (reverseIfApproved)
        {
            EnqueueReversal(attempt);
            return;
        }

        var authorizationCode = message.TryGetString(Iso8583Fields.AuthorizationIdResponse, out var id) ? id : string.Empty;
        KeepForClearing(attempt, authorizationCode, standIn: false);
    }

    /// <summary>
    /// The issuer did not answer in time (or could not be reached). With stand-in on, the scheme
    /// decides by its limit and advises the issuer; a declined authorisation the issuer may have
    /// seen is also reversed, so a hold placed late is released. With stand-in off, the scheme
    /// declines with 91 and reverses.
    /// </summary>
    private void StandIn(AuthorizationAttempt attempt, LinkResponse response, RunCounters counters)
    {
        switch (response.Outcome)
        {
            case LinkOutcome.TimedOut:
                Interlocked.Increment(ref counters.TimedOut);
                break;
            case LinkOutcome.ConnectionLost:
                Interlocked.Increment(ref counters.ConnectionLost);
                break;
            default:
                Interlocked.Increment(ref counters.NotSent);
                break;
        }

        var utcNow = _time.GetUtcNow();
        if (!_options.StandInEnabled)
        {
            Interlocked.Increment(ref counters.IssuerUnavailableDeclined);
            if (response.WasSent)
            {
                EnqueueReversal(attempt);
            }

            return;
        }

        string code;
        if (attempt.Card.IsExpired(utcNow))
        {
            code = Iso8583ResponseCodes.ExpiredCard;
        }
        else
        {
            code = attempt.AmountMinor <= _options.StandInLimitMinor ? Iso8583ResponseCodes.Approved : Iso8583ResponseCodes.DoNotHonour;
        }

        string? authorizationCode = null;
        if (code == Iso8583ResponseCodes.Approved)
        {
            Interlocked.Increment(ref counters.StandInApproved);
            authorizationCode = string.Create(CultureInfo.InvariantCulture, $"S{Interlocked.Increment(ref _standInCodes) % 100_000:D5}");
            KeepForClearing(attempt, authorizationCode, standIn: true);
        }
        else
        {
            Interlocked.Increment(ref counters.StandInDeclined);
        }

        _storeAndForward!.Enqueue(StoreAndForwardKind.Advice, SchemeMessages.Advice(attempt, _options.AcquiringInstitutionId, code, authorizationCode, utcNow.UtcDateTime), attempt.LinkName, attempt.Card.PrimaryAccountNumber);
        if (code != Iso8583ResponseCodes.Approved && response.WasSent)
        {
            EnqueueReversal(attempt);
        }
    }

    private void EnqueueReversal(AuthorizationAttempt attempt)
    {
        var stan = _links!.NextSystemsTraceAuditNumber();
        _storeAndForward!.Enqueue(StoreAndForwardKind.Reversal, SchemeMessages.Reversal(attempt, _options.AcquiringInstitutionId, stan, _time.GetUtcNow().UtcDateTime), attempt.LinkName, attempt.Card.PrimaryAccountNumber);
    }

    private void KeepForClearing(AuthorizationAttempt attempt, string authorizationCode, bool standIn)
    {
        if (!_options.KeepApprovalsForClearing || Interlocked.Increment(ref _approvalsKept) > _options.ClearingRecordsMax)
        {
            return;
        }

        _approvals.Enqueue(new AuthorizationRecord(
            attempt.RetrievalReferenceNumber,
            attempt.SystemsTraceAuditNumber,
            attempt.Card,
            attempt.Merchant,
            attempt.AmountMinor,
            authorizationCode,
            attempt.PosEntryMode,
            new DateTimeOffset(attempt.TransmittedAt, TimeSpan.Zero),
            standIn));
    }

    private void Record(RunCounters counters, long latencyTicks, bool issuerAnswered)
    {
        var micros = Math.Clamp((long)(latencyTicks * 1_000_000.0 / _time.TimestampFrequency), 1, CardNetworkLimits.LatencyMicrosecondsMax);
        lock (_histogramLock)
        {
            counters.Latency.RecordValue(micros);
            _interval.RecordValue(micros);
            if (issuerAnswered)
            {
                counters.IssuerLatency.RecordValue(micros);
            }
        }
    }

    private async Task WaitForOutstandingAsync(TimeSpan timeout)
    {
        var deadline = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        while (Interlocked.Read(ref _outstanding) > 0 && _time.GetTimestamp() < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(5), _time).ConfigureAwait(false);
        }
    }

    private async Task WriteClearingAtDayEndAsync(string directory, CancellationToken cancellationToken)
    {
        // Checked every minute: a day's file appears within a minute of UTC midnight.
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), _time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            WriteClearingFiles(directory, completedDaysOnly: true);
        }
    }

    private async Task ReportProgressAsync(Action<SchemeProgress> progress, long start, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.ProgressInterval, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            LongHistogram interval;
            lock (_histogramLock)
            {
                interval = _interval;
                _interval = new LongHistogram(CardNetworkLimits.LatencyMicrosecondsMax, 3);
            }

            var links = _links!.GetSummaries();
            var linksUp = links.Count(link => link.IsUp);
            progress(new SchemeProgress(
                _time.GetElapsedTime(start),
                Interlocked.Read(ref _counters.Scheduled),
                Interlocked.Read(ref _counters.Approved),
                Interlocked.Read(ref _counters.Declined),
                Interlocked.Read(ref _counters.StandInApproved) + Interlocked.Read(ref _counters.StandInDeclined),
                Interlocked.Read(ref _counters.TimedOut),
                _links.InFlight,
                linksUp > 0,
                LatencySummary.Of(interval))
            {
                LinksUp = linksUp,
                LinksKnown = _links.Count,
                Links = links,
                LinkListMalformedLines = _linkList!.MalformedLines,
            });
        }
    }

    private SchemeSimulatorResult BuildResult(DateTimeOffset startedAt, TimeSpan elapsed, IReadOnlyList<SchemeLinkSummary> links)
    {
        LatencySummary latency;
        LatencySummary issuerLatency;
        LatencySummary sendLag;
        lock (_histogramLock)
        {
            sendLag = LatencySummary.Of(_counters.SendLag);
            latency = LatencySummary.Of(_counters.Latency);
            issuerLatency = LatencySummary.Of(_counters.IssuerLatency);
        }

        return new SchemeSimulatorResult
        {
            StartedAt = startedAt,
            Elapsed = elapsed,
            TargetRatePerSecond = _options.RatePerSecond,
            Scheduled = Interlocked.Read(ref _counters.Scheduled),
            Sent = Interlocked.Read(ref _counters.Sent),
            Approved = Interlocked.Read(ref _counters.Approved),
            Declined = Interlocked.Read(ref _counters.Declined),
            StandInApproved = Interlocked.Read(ref _counters.StandInApproved),
            StandInDeclined = Interlocked.Read(ref _counters.StandInDeclined),
            IssuerUnavailableDeclined = Interlocked.Read(ref _counters.IssuerUnavailableDeclined),
            TimedOut = Interlocked.Read(ref _counters.TimedOut),
            ConnectionLost = Interlocked.Read(ref _counters.ConnectionLost),
            NotSent = Interlocked.Read(ref _counters.NotSent),
            ResponseCodes = new SortedDictionary<string, long>(_counters.ResponseCodes, StringComparer.Ordinal),
            Advices = _storeAndForward?.GetCounts(StoreAndForwardKind.Advice) ?? default,
            Reversals = _storeAndForward?.GetCounts(StoreAndForwardKind.Reversal) ?? default,
            Latency = latency,
            IssuerLatency = issuerLatency,
            SendLag = sendLag,
            Link = SchemeLinkStatistics.Sum(links.Select(link => link.Statistics)),
            Links = links,
            LinkListMalformedLines = _linkList?.MalformedLines ?? 0,
            LinkListReadErrors = _linkList?.ReadErrors ?? 0,
        };
    }

    [LoggerMessage(EventId = 5120, Level = LogLevel.Information, Message = "Scheme simulator finished: {Scheduled} scheduled, {Approved} approved, {Declined} declined, {StandIn} stand-in, {TimedOut} timed out, p99 {P99} ms")]
    private partial void LogFinished(long scheduled, long approved, long declined, long standIn, long timedOut, double p99);

    [LoggerMessage(EventId = 5121, Level = LogLevel.Error, Message = "Scheme simulator could not build a message for RRN {Rrn}")]
    private partial void LogBuildFailed(Exception error, string rrn);

    [LoggerMessage(EventId = 5122, Level = LogLevel.Warning, Message = "Scheme simulator: no card link signed on within {Seconds} s ({Links} known); standing in until one does")]
    private partial void LogNoLinkUp(int links, double seconds);

    /// <summary>Counts and latencies of one phase (warm-up or measured); histograms are guarded by the simulator's lock.</summary>
    private sealed class RunCounters
    {
#pragma warning disable SA1401, CA1051 // Fields, so they can be incremented with Interlocked.
        public long Scheduled;
        public long Sent;
        public long Approved;
        public long Declined;
        public long StandInApproved;
        public long StandInDeclined;
        public long IssuerUnavailableDeclined;
        public long TimedOut;
        public long ConnectionLost;
        public long NotSent;
#pragma warning restore SA1401, CA1051

        public ConcurrentDictionary<string, long> ResponseCodes { get; } = new(StringComparer.Ordinal);

        public LongHistogram Latency { get; } = new(CardNetworkLimits.LatencyMicrosecondsMax, 3);

        public LongHistogram IssuerLatency { get; } = new(CardNetworkLimits.LatencyMicrosecondsMax, 3);

        public LongHistogram SendLag { get; } = new(CardNetworkLimits.LatencyMicrosecondsMax, 3);
    }
}
