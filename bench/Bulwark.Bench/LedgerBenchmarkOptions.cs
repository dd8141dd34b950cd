namespace Bulwark.Bench;

/// <summary>What one ledger benchmark run does. Defaults: 10,000 accounts, 8 clients, 1,000 transfers per call, 10 s.</summary>
public sealed record LedgerBenchmarkOptions
{
    /// <summary>Where the fresh database goes (with <see cref="Cells"/>: a new directory per run inside it); a new temporary directory (deleted afterwards) when null.</summary>
    public string? DataDirectory { get; init; }

    public int Accounts { get; init; } = 10_000;

    /// <summary>"sqlite" (default) or "postgres".</summary>
    public string Store { get; init; } = "sqlite";

    /// <summary>
    /// With <see cref="Store"/> "postgres": the server to use (a fresh database is created on it
    /// and dropped afterwards, so the user needs CREATEDB). Null: the bench starts its own
    /// temporary durable server (initdb, fsync on) and removes it afterwards.
    /// </summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>With PostgreSQL: also run <c>pgbench -b tpcb-like</c> on the same server, same clients and duration.</summary>
    public bool ComparePgbench { get; init; }

    /// <summary>Concurrent clients, each submitting one call at a time and waiting for its durable reply.</summary>
    public int Clients { get; init; } = 8;

    /// <summary>Transfers per call (1 to <see cref="Ledger.LedgerLimits.SubmitTransfersMax"/>).</summary>
    public int BatchSize { get; init; } = 1_000;

    /// <summary>How long the measured phase runs.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Load before measuring starts (JIT, page cache); not counted.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Ids that grow with time (a millisecond timestamp in the high bits, then randomness, like
    /// ULID or UUIDv7) instead of fully random ones. The ledger's id index then grows at its right
    /// edge instead of taking each insert at a random page, which is what a client should do when
    /// it can. Default: false (random ids, the worst case).
    /// </summary>
    public bool TimeOrderedIds { get; init; }

    /// <summary>Seeds the random ids, accounts and amounts, so runs are comparable.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>
    /// Null: one ledger engine, called straight (no gRPC). A number: that many real cells (a store
    /// and writer each), the partitions spread evenly, every call through the placement router and
    /// gRPC (<see cref="CellsLedgerBenchmark"/>).
    /// </summary>
    public int? Cells { get; init; }

    /// <summary>With <see cref="Cells"/>: the share (0 to 100) of transfers whose credit account is in another cell than the debit account.</summary>
    public int CrossCellPercent { get; init; }

    /// <summary>
    /// Null: the clients send flat out (each next call as soon as the last returned). A rate: the
    /// offered load in transfers per second, spread evenly over the clients, each sending its
    /// calls on a fixed schedule (a late call goes at once, never skipped), so runs with and
    /// without the event log do the same work and differ in the CPU it took.
    /// </summary>
    public int? OfferedTransfersPerSecond { get; init; }

    /// <summary>
    /// Null: no relay, as before. "none": no relay, but reported beside runs with one. "file": a
    /// relay publishing every committed change to a file log in a temporary directory (what
    /// <c>bulwark run</c> does). "nats": a relay publishing to JetStream on
    /// <see cref="NatsUrl"/> (a cluster's setup; a stream of its own per run).
    /// </summary>
    public string? EventLog { get; init; }

    /// <summary><see cref="EventLog"/>'s kind (none, file, nats): what comes before an optional ":LINGER_MS".</summary>
    public string? EventLogKind => EventLog?.Split(':')[0];

    /// <summary>
    /// The relay's linger when <see cref="EventLog"/> names one ("file:0", "nats:20"); null for the
    /// relay's default.
    /// </summary>
    public TimeSpan? RelayLinger => EventLog?.Split(':') is [_, var milliseconds]
        && int.TryParse(milliseconds, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
        ? TimeSpan.FromMilliseconds(value) : null;

    /// <summary>With <see cref="EventLog"/> "nats": the server (nats://host:port), its JetStream on.</summary>
    public string? NatsUrl { get; init; }

    /// <summary>
    /// CPU time so far of the servers doing part of the work in processes of their own (the
    /// event log's nats-server, a PostgreSQL the bench started), read with the bench process's own
    /// at the start and end of the measured phase; null when there are none or it cannot be read.
    /// </summary>
    public Func<TimeSpan?>? ServerCpu { get; init; }

    /// <summary>Most offered load a bench takes, in transfers per second: far above what one engine does here.</summary>
    public const int OfferedTransfersPerSecondMax = 10_000_000;

    /// <summary>True for none, file, nats, file:MS or nats:MS with MS a linger of 0 to 200 milliseconds.</summary>
    public static bool IsEventLog(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Split(':') switch
        {
            ["none" or "file" or "nats"] => true,
            ["file" or "nats", var milliseconds] => int.TryParse(milliseconds, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
                && value <= Bulwark.Ledger.LedgerLimits.RelayLingerMillisecondsMax,
            _ => false,
        };
    }

    /// <summary>Most cells a bench runs: each is a writer thread and a store.</summary>
    public const int CellsMax = 16;

    public void Validate()
    {
        if (Store is not ("sqlite" or "postgres"))
        {
            throw new ArgumentException("Store must be sqlite or postgres.");
        }
        if (ComparePgbench && Store != "postgres")
        {
            throw new ArgumentException("ComparePgbench needs the postgres store.");
        }
        if (Accounts < 2)
        {
            throw new ArgumentException("Accounts must be at least 2.");
        }
        if (Clients < 1)
        {
            throw new ArgumentException("Clients must be at least 1.");
        }
        if (BatchSize is < 1 or > Ledger.LedgerLimits.SubmitTransfersMax)
        {
            throw new ArgumentException($"BatchSize must be 1 to {Ledger.LedgerLimits.SubmitTransfersMax}.");
        }
        if (Cells is < 1 or > CellsMax)
        {
            throw new ArgumentException($"Cells must be 1 to {CellsMax}.");
        }
        if (CrossCellPercent is < 0 or > 100)
        {
            throw new ArgumentException("CrossCellPercent must be 0 to 100.");
        }
        if (CrossCellPercent > 0 && Cells is null or 1)
        {
            throw new ArgumentException("CrossCellPercent needs at least 2 cells.");
        }
        if (Cells is not null && ComparePgbench)
        {
            throw new ArgumentException("ComparePgbench runs with one engine only (no Cells).");
        }
        if (OfferedTransfersPerSecond is < 1 or > OfferedTransfersPerSecondMax)
        {
            throw new ArgumentException($"OfferedTransfersPerSecond must be 1 to {OfferedTransfersPerSecondMax}.");
        }
        if (EventLog is not null && !IsEventLog(EventLog))
        {
            throw new ArgumentException("EventLog must be none, file or nats, the last two optionally with :LINGER_MS (0 to 200).");
        }
        if (EventLogKind == "nats" && string.IsNullOrWhiteSpace(NatsUrl))
        {
            throw new ArgumentException("EventLog nats needs NatsUrl.");
        }
        if (EventLog is not null && (Cells is not null || ComparePgbench))
        {
            throw new ArgumentException("EventLog runs with one engine only (no Cells, no ComparePgbench).");
        }
        if (Duration <= TimeSpan.Zero || Warmup < TimeSpan.Zero)
        {
            throw new ArgumentException("Duration must be positive and Warmup not negative.");
        }
    }
}

/// <summary>One run's figures. Latency is per call, from submit to durable acknowledgement.</summary>
public sealed record LedgerBenchmarkResult(
    DateTimeOffset StartedAt,
    int Accounts,
    int Clients,
    int BatchSize,
    double DurationSeconds,
    long TransfersCommitted,
    double TransfersPerSecond,
    double LatencyP50Milliseconds,
    double LatencyP99Milliseconds,
    double LatencyMaxMilliseconds,
    long WriterBatches,
    double AverageWriterBatchSize,
    long Declined,
    bool TimeOrderedIds,
    int ProcessorCount,
    string Runtime)
{
    /// <summary>The store measured: sqlite or postgres.</summary>
    public string Store { get; init; } = "sqlite";

    /// <summary>The database server's version (PostgreSQL), or the SQLite library's.</summary>
    public string? StoreVersion { get; init; }

    /// <summary>
    /// CPU time the whole benchmark process (engine, writer and clients) used in the measured
    /// phase. Unlike transfers/s it barely moves when other work shares the machine, so runs on a
    /// busy machine can still be compared.
    /// </summary>
    public double? ProcessCpuSeconds { get; init; }

    /// <summary>Process CPU per durable transfer, in microseconds.</summary>
    public double? CpuMicrosecondsPerTransfer => ProcessCpuSeconds is { } cpu && TransfersCommitted > 0
        ? Math.Round(cpu * 1e6 / TransfersCommitted, 1)
        : null;

    /// <summary>The machine's load averages (1, 5, 15 minutes) at the end of the run: above the core count, other work competed for the CPU.</summary>
    public string? LoadAverage { get; init; }

    /// <summary>With --cells: how many cells (null: one engine called straight).</summary>
    public int? Cells { get; init; }

    /// <summary>With --cells: the cross-cell share asked for, in percent.</summary>
    public int? CrossCellPercent { get; init; }

    /// <summary>With --cells: the share of committed transfers whose accounts were in different cells, in percent.</summary>
    public double? CrossCellShare { get; init; }

    /// <summary>With --cells: retriable answers (UNAVAILABLE, WRONG_OWNER) the clients saw after the router's own retries, each followed by a resend.</summary>
    public long? RetriableRefusals { get; init; }

    /// <summary>With --cells: calls that did not end with every transfer answered (goal: 0).</summary>
    public long? FailedCalls { get; init; }

    /// <summary>With --cells: transit accounts net zero, the bench's accounts net zero, nothing pending, no credit leg still owed, and the checker ok.</summary>
    public bool? MoneyConserved { get; init; }

    /// <summary>With --cells: the sum of every transit account's balance after the credit legs drained.</summary>
    public long? TransitNet { get; init; }

    /// <summary>With --cells: credit legs still owed when the drain gave up (0 when it finished).</summary>
    public int? CreditLegsOwedAfterDrain { get; init; }

    /// <summary>With --cells: how long the owed credit legs took to be delivered after the load stopped.</summary>
    public double? CreditLegDrainSeconds { get; init; }

    /// <summary>With --cells: the ledger checker's verdict over every cell and the legs between them.</summary>
    public bool? CheckerOk { get; init; }

    /// <summary>With --event-log: none, file or nats (the relay publishing to that log during the run).</summary>
    public string? EventLog { get; init; }

    /// <summary>The event log's server version (nats-server), or "file log".</summary>
    public string? EventLogVersion { get; init; }

    /// <summary>With --rate: the offered load in transfers per second.</summary>
    public int? OfferedTransfersPerSecond { get; init; }

    /// <summary>CPU time of the servers the bench started (PostgreSQL, nats-server) in the measured phase; null when none or unreadable.</summary>
    public double? ServerCpuSeconds { get; init; }

    /// <summary>Server CPU per durable transfer, in microseconds.</summary>
    public double? ServerCpuMicrosecondsPerTransfer => ServerCpuSeconds is { } cpu && TransfersCommitted > 0
        ? Math.Round(cpu * 1e6 / TransfersCommitted, 1)
        : null;

    /// <summary>With an event log: events the relay appended during the whole run (accounts and warm-up included).</summary>
    public long? EventsPublished { get; init; }

    /// <summary>With an event log: events committed in the measured phase whose publish-minus-commit time was recorded.</summary>
    public long? EventsLagMeasured { get; init; }

    /// <summary>With an event log: per event, the time its append to the log returned minus the time its batch committed.</summary>
    public double? LagP50Milliseconds { get; init; }

    public double? LagP99Milliseconds { get; init; }

    public double? LagMaxMilliseconds { get; init; }

    /// <summary>With an event log: the relay's lag in events (committed, not in the log), sampled every 100 ms in the measured phase.</summary>
    public long? LagEventsP50 { get; init; }

    public long? LagEventsP99 { get; init; }

    public long? LagEventsMax { get; init; }

    /// <summary>With an event log: how long after the load stopped the relay had published everything committed.</summary>
    public double? RelayCatchUpSeconds { get; init; }

    /// <summary>With --compare-pgbench: pgbench's figures on the same server in the same run.</summary>
    public PgbenchResult? Pgbench { get; init; }

    /// <summary>Ledger durable transfers/s divided by pgbench tpcb-like transactions/s.</summary>
    public double? RatioToPgbench => Pgbench is { TransactionsPerSecond: > 0 } p ? Math.Round(TransfersPerSecond / p.TransactionsPerSecond, 2) : null;
}

/// <summary>One pgbench run: <c>pgbench -b tpcb-like</c>, its command lines and figures.</summary>
public sealed record PgbenchResult(
    int Clients,
    int Threads,
    int Scale,
    double DurationSeconds,
    long Transactions,
    double TransactionsPerSecond,
    double LatencyAverageMilliseconds,
    string InitCommand,
    string RunCommand);
