using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Bulwark.Ledger;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using HdrHistogram;

namespace Bulwark.Bench;

/// <summary>
/// <c>bulwark bench move</c>: a bank of two real cells (SQLite) reached through the router; one
/// partition of cell a is filled with a given number of transfers, then moved to cell b with the
/// real <see cref="PartitionMover"/> while background payments run on it and on other partitions.
/// Reports the move's total, copy and pause times (pause to released, to the target owning it, to
/// the map flipped), every failed call and every retriable refusal the clients saw, and checks the
/// money afterwards (transit accounts net to zero, the checker over both cells).
/// </summary>
public static class MoveBenchmark
{
    private const long LatencyHighestMicroseconds = 60_000_000;

    public static async Task<MoveBenchmarkResult> RunAsync(MoveBenchmarkOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        options.Validate();
        var loadBefore = LedgerBenchmark.LoadAverage();
        using var refusals = new RouterRefusalCounter();
        var ownDirectory = options.DataDirectory is null;
        // A directory of its own per run: a map and cell stores left by an earlier run in the same place would be taken up again.
        var directory = Path.Combine(options.DataDirectory ?? Path.GetTempPath(), "bulwark-bench-move-" + Guid.NewGuid().ToString("n"));
        try
        {
            await using var bank = await BenchCellBank.StartAsync(directory, 2, postgresFor: null, cancellationToken);
            var storeVersion = "SQLite " + SQLitePCL.raw.sqlite3_libversion().utf8_to_string();
            var accounts = MoveAccounts.Choose(bank, options.PartitionAccounts);
            await bank.CreateAccountsAsync(accounts.All, cancellationToken);
            var build = Stopwatch.StartNew();
            var built = await BuildAsync(bank, accounts, options, cancellationToken);
            var buildSeconds = build.Elapsed.TotalSeconds;
            var owedAfterBuild = await bank.DrainCreditLegsAsync(cancellationToken);
            output.WriteLine(Invariant($"move bench: partition {accounts.Partition} of cell a, {built:N0} transfers built through the router in {buildSeconds:N1} s ({options.PartitionAccounts} accounts in it; {owedAfterBuild} credit legs still owed); moving it to cell b under {options.Rate:N0} payments/s from {options.Workers} workers"));

            var load = new BackgroundLoad(bank, accounts, options);
            var cpuBefore = LedgerBenchmark.ProcessCpu();
            var loadTask = load.RunAsync(cancellationToken);
            await Task.Delay(options.Settle, cancellationToken);
            var steps = new StepClock(output);
            load.MoveRunning = true;
            var move = Stopwatch.StartNew();
            var moved = await bank.Mover(new PartitionMoveOptions { Grace = TimeSpan.Zero, DropCopy = false })
                .MoveAsync(accounts.Partition, "b", steps, cancellationToken);
            var moveMilliseconds = move.Elapsed.TotalMilliseconds;
            load.MoveRunning = false;
            var drop = Stopwatch.StartNew();
            await bank.Mover(new PartitionMoveOptions()).DropCopyAsync("a", accounts.Partition, cancellationToken);
            var dropMilliseconds = drop.Elapsed.TotalMilliseconds;
            await Task.Delay(options.Settle, cancellationToken);
            load.Stop();
            await loadTask;
            var cpu = (LedgerBenchmark.ProcessCpu() - cpuBefore).TotalSeconds;

            var owed = await bank.DrainCreditLegsAsync(cancellationToken);
            var money = await bank.CheckMoneyAsync(accounts.All, cancellationToken);
            var report = await bank.StopAndCheckAsync();
            foreach (var problem in report.Problems.Take(20))
            {
                output.WriteLine("    " + problem);
            }
            var result = new MoveBenchmarkResult(
                DateTimeOffset.UtcNow,
                Environment.ProcessorCount,
                System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                storeVersion,
                accounts.Partition,
                moved.Source,
                moved.Target,
                built,
                Math.Round(buildSeconds, 2),
                moved.Accounts,
                moved.TransferRows,
                Math.Round(moveMilliseconds, 1),
                Math.Round(steps.Between(null, "pause"), 1),
                Math.Round(moved.Pause.TotalMilliseconds, 1),
                Math.Round(steps.Between("pause", "flip"), 1),
                Math.Round(steps.Between("pause", "flipped"), 1),
                Math.Round(dropMilliseconds, 1),
                load.Calls,
                load.CallsOnPartition,
                load.Failed,
                load.Retriable,
                LedgerBenchmark.Milliseconds(load.Latency.GetValueAtPercentile(50)),
                LedgerBenchmark.Milliseconds(load.Latency.GetValueAtPercentile(99)),
                LedgerBenchmark.Milliseconds(load.Latency.GetMaxValue()),
                LedgerBenchmark.Milliseconds(load.PartitionDuringMove.GetMaxValue()),
                LedgerBenchmark.Milliseconds(load.ElsewhereDuringMove.GetMaxValue()),
                Math.Round(cpu, 2),
                loadBefore,
                LedgerBenchmark.LoadAverage(),
                owed == 0 && money.Conserved && report.Ok,
                money.TransitNet,
                report.Ok)
            {
                RouterRefusals = refusals.ByReason,
            };
            output.WriteLine(Invariant($"  move: {result.MoveTotalMilliseconds:N0} ms in all ({result.TransferRowsMoved:N0} transfer rows, {result.AccountsMoved:N0} accounts); copy and catch-up {result.CopyMilliseconds:N0} ms; pause to released {result.PauseToReleasedMilliseconds:N0} ms, to owned by the target {result.PauseToOwnedMilliseconds:N0} ms, to the map flipped {result.PauseToMapMilliseconds:N0} ms; old copy dropped in {result.DropCopyMilliseconds:N0} ms"));
            output.WriteLine(Invariant($"  background: {result.BackgroundCalls:N0} calls ({result.BackgroundCallsOnPartition:N0} on the partition); failed {result.FailedCalls}; retriable refusals reaching the clients {result.RetriableRefusals}; refusals the router absorbed {string.Join(", ", result.RouterRefusals.Select(pair => pair.Key + " " + pair.Value))}; latency p50 {result.BackgroundP50Milliseconds:N2} ms, p99 {result.BackgroundP99Milliseconds:N2} ms, max {result.BackgroundMaxMilliseconds:N2} ms; longest call during the move on the partition {result.PartitionMaxMillisecondsDuringMove:N0} ms, elsewhere {result.ElsewhereMaxMillisecondsDuringMove:N0} ms"));
            output.WriteLine(Invariant($"  money: transit accounts net {money.TransitNet}, accounts net {money.AccountsNet}, {owed} credit legs still owed; checker over {report.CellCount} cells {(report.Ok ? "ok" : "PROBLEMS")} => {(result.MoneyConserved ? "conserved" : "NOT CONSERVED")}; process CPU {result.ProcessCpuSeconds:N1} s; goal (pause under {MoveBenchmarkOptions.PauseTargetMilliseconds:N0} ms, no failed call) {(result.GoalMet ? "met" : "NOT met")}"));
            return result;
        }
        finally
        {
            if (ownDirectory && Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary>
    /// Fills the moving partition: calls of a thousand transfers, nine in ten between its own
    /// accounts, the rest between it and cell b (debit legs with owed credit legs, and credit legs
    /// arriving), so the copy carries every kind of row. Returns the transfers committed.
    /// </summary>
    private static async Task<long> BuildAsync(BenchCellBank bank, MoveAccounts accounts, MoveBenchmarkOptions options, CancellationToken cancellationToken)
    {
        var random = new Random(options.Seed);
        long committed = 0;
        for (var done = 0; done < options.Transfers;)
        {
            var request = new SubmitTransfersRequest { IdNamespace = IdNamespace.Bank };
            for (var i = 0; i < Math.Min(1_000, options.Transfers - done); i++)
            {
                var (debit, credit) = (random.Next(20)) switch
                {
                    0 => (accounts.InPartition(random), accounts.InOtherCell(random)),
                    1 => (accounts.InOtherCell(random), accounts.InPartition(random)),
                    _ => accounts.TwoInPartition(random),
                };
                request.Transfers.Add(Payment(random, debit, credit));
            }
            done += request.Transfers.Count;
            var (ok, declined, _, failed) = await CellsLedgerBenchmark.SubmitAsync(bank, request, cancellationToken);
            if (failed || declined > 0)
            {
                throw new InvalidOperationException($"Building the partition failed: {declined} transfers declined.");
            }
            committed += ok;
        }
        return committed;
    }

    internal static Transfer Payment(Random random, UInt128 debit, UInt128 credit) => new()
    {
        Id = Uint128.InNamespace(IdNamespace.Bank, new UInt128((ulong)random.NextInt64(1, long.MaxValue), (ulong)random.NextInt64())).ToProto(),
        DebitAccountId = debit.ToProto(),
        CreditAccountId = credit.ToProto(),
        Amount = random.Next(1, 10_000),
        Currency = "GBP",
        Code = 3,
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Records, as it happens, when the mover first reports each step (a <see cref="Progress{T}"/> would post it later).</summary>
    private sealed class StepClock(TextWriter output) : IProgress<PartitionMoveReport>
    {
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly ConcurrentDictionary<string, long> _firstAt = new(StringComparer.Ordinal);

        public void Report(PartitionMoveReport value)
        {
            var now = Stopwatch.GetTimestamp();
            if (_firstAt.TryAdd(value.Step, now) && value.Step != "copy")
            {
                output.WriteLine(Invariant($"  {Stopwatch.GetElapsedTime(_started, now).TotalMilliseconds,8:N0} ms  {value.Step} ({value.Rows:N0} rows)"));
            }
        }

        /// <summary>Milliseconds from the first report of <paramref name="from"/> (null: the start) to the first of <paramref name="to"/>; 0 when either is missing.</summary>
        public double Between(string? from, string to)
        {
            var start = from is null ? _started : _firstAt.GetValueOrDefault(from);
            return start == 0 || !_firstAt.TryGetValue(to, out var end) ? 0 : Stopwatch.GetElapsedTime(start, end).TotalMilliseconds;
        }
    }

    /// <summary>The accounts of the moving partition (in cell a), of other partitions of cell a, and of cell b.</summary>
    private sealed class MoveAccounts
    {
        private const int OthersPerCell = 100;

        private MoveAccounts(int partition, UInt128[] inPartition, UInt128[] otherInA, UInt128[] inB)
        {
            Partition = partition;
            Partitioned = inPartition;
            OtherInA = otherInA;
            InB = inB;
            All = [.. inPartition, .. otherInA, .. inB];
        }

        public int Partition { get; }

        public UInt128[] Partitioned { get; }

        public UInt128[] OtherInA { get; }

        public UInt128[] InB { get; }

        public UInt128[] All { get; }

        public static MoveAccounts Choose(BenchCellBank bank, int partitionAccounts)
        {
            var map = bank.Map;
            var partition = map.PartitionsOf("a")[map.PartitionsOf("a").Count / 2];
            return new MoveAccounts(
                partition,
                BenchCellBank.AccountsWhere(p => p == partition, 1_000).Take(partitionAccounts).ToArray(),
                BenchCellBank.AccountsWhere(p => p != partition && map.CellOf(p) == "a", 1_000).Take(OthersPerCell).ToArray(),
                BenchCellBank.AccountsWhere(p => map.CellOf(p) == "b", 1_000).Take(OthersPerCell).ToArray());
        }

        public UInt128 InPartition(Random random) => Partitioned[random.Next(Partitioned.Length)];

        public UInt128 InOtherCell(Random random) => InB[random.Next(InB.Length)];

        public (UInt128 Debit, UInt128 Credit) TwoInPartition(Random random) => Two(random, Partitioned);

        public (UInt128 Debit, UInt128 Credit) TwoElsewhere(Random random)
        {
            var debit = random.Next(2) == 0 ? OtherInA[random.Next(OtherInA.Length)] : InB[random.Next(InB.Length)];
            var credit = random.Next(2) == 0 ? OtherInA[random.Next(OtherInA.Length)] : InB[random.Next(InB.Length)];
            return debit == credit ? TwoElsewhere(random) : (debit, credit);
        }

        public (UInt128 Debit, UInt128 Credit) Across(Random random)
        {
            var inside = InPartition(random);
            var outside = random.Next(2) == 0 ? OtherInA[random.Next(OtherInA.Length)] : InB[random.Next(InB.Length)];
            return random.Next(2) == 0 ? (inside, outside) : (outside, inside);
        }

        private static (UInt128, UInt128) Two(Random random, UInt128[] from)
        {
            var first = random.Next(from.Length);
            var second = (first + 1 + random.Next(from.Length - 1)) % from.Length;
            return (from[first], from[second]);
        }
    }

    /// <summary>
    /// Paced payments, one transfer per call through the router, each sent until answered (the
    /// bench's resend after a retriable answer, as a service does); counts every call, every failed
    /// one and every retriable refusal, and the latency of each call.
    /// </summary>
    private sealed class BackgroundLoad(BenchCellBank bank, MoveAccounts accounts, MoveBenchmarkOptions options)
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Lock _lock = new();
        private long _calls;
        private long _callsOnPartition;
        private long _failed;
        private long _retriable;

        public volatile bool MoveRunning;

        public LongHistogram Latency { get; } = new(LatencyHighestMicroseconds, 3);

        public LongHistogram PartitionDuringMove { get; } = new(LatencyHighestMicroseconds, 3);

        /// <summary>Calls touching only other partitions (of either cell) while the move ran: whether a move holds up more than its partition.</summary>
        public LongHistogram ElsewhereDuringMove { get; } = new(LatencyHighestMicroseconds, 3);

        public long Calls => Interlocked.Read(ref _calls);

        public long CallsOnPartition => Interlocked.Read(ref _callsOnPartition);

        public long Failed => Interlocked.Read(ref _failed);

        public long Retriable => Interlocked.Read(ref _retriable);

        public void Stop() => _stop.Cancel();

        public Task RunAsync(CancellationToken cancellationToken) => Task.WhenAll(Enumerable.Range(0, options.Workers)
            .Select(worker => Task.Run(() => RunWorkerAsync(worker, cancellationToken), CancellationToken.None)));

        private async Task RunWorkerAsync(int worker, CancellationToken cancellationToken)
        {
            var random = new Random(options.Seed + 1 + worker);
            var interval = TimeSpan.FromSeconds(options.Workers / options.Rate);
            var next = Stopwatch.GetTimestamp();
            while (!_stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, CancellationToken.None);
                }
                next += (long)(interval.TotalSeconds * Stopwatch.Frequency);
                var kind = random.Next(4);
                var (debit, credit) = kind switch
                {
                    0 => accounts.TwoInPartition(random),
                    1 => accounts.Across(random),
                    _ => accounts.TwoElsewhere(random),
                };
                var duringMove = MoveRunning;
                var started = Stopwatch.GetTimestamp();
                var (ok, _, retriable, failed) = await CellsLedgerBenchmark.SubmitAsync(
                    bank, new SubmitTransfersRequest { IdNamespace = IdNamespace.Bank, Transfers = { Payment(random, debit, credit) } }, cancellationToken);
                var microseconds = Math.Min((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds, LatencyHighestMicroseconds);
                Interlocked.Increment(ref _calls);
                Interlocked.Add(ref _retriable, retriable);
                if (failed || ok != 1)
                {
                    Interlocked.Increment(ref _failed);
                }
                lock (_lock)
                {
                    Latency.RecordValue(microseconds);
                    var moving = duringMove || MoveRunning;
                    if (kind < 2)
                    {
                        _callsOnPartition++;
                        if (moving)
                        {
                            PartitionDuringMove.RecordValue(microseconds);
                        }
                    }
                    else if (moving)
                    {
                        ElsewhereDuringMove.RecordValue(microseconds);
                    }
                }
            }
        }
    }
}
