using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Ledger.Routing.Tests;

/// <summary>
/// One seeded run: a bank of three cells, customers in six partitions (two per cell at first), a
/// schedule drawn from the seed run by concurrent workers (transfers within a partition, between
/// partitions of a cell and between cells; holds posted, posted short and voided; retries of
/// acknowledged ids; reads; partition moves, some killed at a step or cancelled and resumed later or
/// left to their lease; cells restarted, or down for a while so that credit legs wait), then a
/// drain (every cell up, every interrupted move finished, every in-doubt transfer resolved by
/// sending it again, every owed credit leg delivered) and the invariants checked. Every failure is
/// listed; an empty list is a pass.
/// </summary>
public sealed class CellPropertyRun
{
    public const int OperationsPerRun = 140;
    public const int Workers = 4;
    private const long Funding = 1_000_000;
    private const int RetryDelayMilliseconds = 80;

    // A client gives up (in doubt) after this long during the run: a partition released by a mover
    // that died stays unserved until the move is run again, and the schedule must not wait on it.
    private static readonly TimeSpan PatienceDuringRun = TimeSpan.FromSeconds(3);

    // In the drain every cell is up and every move finished: an answer is due.
    private static readonly TimeSpan PatienceInDrain = TimeSpan.FromSeconds(30);

    private static readonly string[] CellNames = ["a", "b", "c"];

    private readonly int _seed;
    private readonly CellBank _bank;
    private readonly IReadOnlyList<ScheduledOperation> _schedule;
    private readonly int[] _partitions;
    private readonly UInt128[] _customers;
    private readonly UInt128 _bankAccount;
    private readonly ConcurrentDictionary<int, SentTransfer> _sent = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource> _done = new();
    private readonly ConcurrentDictionary<int, string> _movesPending = new();
    private readonly ConcurrentDictionary<int, SemaphoreSlim> _moveLocks = new();
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly CancellationTokenSource _bound = new(TimeSpan.FromMinutes(3));
    private long _nextFundingId = 1_000_000;

    private CellPropertyRun(int seed, CellBank bank, int[] partitions, UInt128 bankAccount)
    {
        _seed = seed;
        _bank = bank;
        _schedule = CellSchedule.Draw(seed, OperationsPerRun);
        _partitions = partitions;
        _customers = [.. partitions.SelectMany(partition => CellBank.AccountsInPartition(partition).Take(3))];
        _bankAccount = bankAccount;
    }

    public RunStatistics Statistics { get; } = new();

    public IReadOnlyList<ScheduledOperation> Schedule => _schedule;

    /// <summary>Runs seed <paramref name="seed"/> to the end and returns every invariant it found broken.</summary>
    public static async Task<(IReadOnlyList<string> Failures, CellPropertyRun Run)> RunAsync(int seed)
    {
        await using var bank = await CellBank.StartAsync(CellNames);
        var random = new Random(seed);
        var partitions = CellNames.SelectMany(cell =>
        {
            var owned = bank.Map.PartitionsOf(cell);
            return owned.OrderBy(_ => random.Next()).Take(2);
        }).ToArray();
        var bankPartition = bank.Map.PartitionsOf("a").First(partition => !partitions.Contains(partition));
        var run = new CellPropertyRun(seed, bank, partitions, CellBank.AccountsInPartition(bankPartition).First());
        try
        {
            await run.Timed("prepare", run.PrepareAsync);
            await run.Timed("schedule", run.RunScheduleAsync);
            await run.Timed("drain", run.DrainAsync);
            await run.Timed("check", run.CheckAsync);
            var report = await bank.StopAndCheckAsync();
            if (!report.Ok)
            {
                run._failures.Enqueue("ledger check: " + string.Join("; ", report.Problems.Take(20)));
            }
            if (report.CreditLegsInFlight != 0)
            {
                run._failures.Enqueue(Invariant($"ledger check: {report.CreditLegsInFlight} credit legs still in flight after the drain"));
            }
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            run._failures.Enqueue("the run failed: " + error);
        }
        finally
        {
            run._bound.Dispose();
        }
        return ([.. run._failures], run);
    }

    private async Task Timed(string phase, Func<Task> action)
    {
        var started = Stopwatch.GetTimestamp();
        await action();
        Statistics.Phases.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{phase} {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s"));
    }

    private async Task PrepareAsync()
    {
        await CreateAccountsAsync([_bankAccount], AccountFlags.None);
        await CreateAccountsAsync(_customers, AccountFlags.DebitsMustNotExceedCredits);
        foreach (var customer in _customers)
        {
            var index = -(int)Interlocked.Increment(ref _nextFundingId);
            var funding = new SentTransfer(index, OperationKind.Transfer, new Transfer
            {
                Id = TransferId(index).ToProto(),
                DebitAccountId = _bankAccount.ToProto(),
                CreditAccountId = customer.ToProto(),
                Amount = Funding,
                Currency = "GBP",
                Code = 1,
            }, -1);
            _sent[index] = funding;
            await SubmitAsync(funding);
            Assert.Equal(TransferOutcome.Acknowledged, funding.Outcome);
        }
    }

    private async Task CreateAccountsAsync(IReadOnlyList<UInt128> ids, AccountFlags flags)
    {
        var created = await _bank.Ledger.CreateAccountsAsync(new CreateAccountsRequest
        {
            Accounts = { ids.Select(id => new Account { Id = id.ToProto(), Currency = "GBP", Code = 1, Flags = (uint)flags }) },
        }, deadline: Deadline());
        Assert.All(created.Results, result => Assert.Equal(CreateAccountStatus.Ok, result.Status));
    }

    private async Task RunScheduleAsync()
    {
        foreach (var operation in _schedule)
        {
            _done[operation.Index] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        var next = -1;
        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            for (var index = Interlocked.Increment(ref next); index < _schedule.Count && !_bound.IsCancellationRequested; index = Interlocked.Increment(ref next))
            {
                try
                {
                    await RunOperationAsync(_schedule[index]);
                }
                finally
                {
                    _done[index].TrySetResult();
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        if (_bound.IsCancellationRequested)
        {
            _failures.Enqueue("the schedule did not finish within its bound (3 minutes)");
        }
    }

    private Task RunOperationAsync(ScheduledOperation operation) => operation.Kind switch
    {
        OperationKind.Transfer or OperationKind.Hold => TransferAsync(operation),
        OperationKind.Post or OperationKind.Void => ResolveHoldAsync(operation),
        OperationKind.Retry => RetryAsync(operation),
        OperationKind.Read => ReadAsync(operation),
        OperationKind.Move => MoveAsync(operation),
        OperationKind.RestartCell => RestartAsync(operation),
        OperationKind.CellDown => CellDownAsync(operation),
        _ => throw new InvalidOperationException($"no such operation {operation.Kind}"),
    };

    private async Task TransferAsync(ScheduledOperation operation)
    {
        var map = (await _bank.Placement.ReadAsync(_bound.Token))!.Map!;
        var debit = _customers[operation.Debit % _customers.Length];
        var debitPartition = LedgerPartitioner.PartitionOf(debit, CellBank.Partitions);
        var candidates = _customers.Where(credit => credit != debit && operation.Route switch
        {
            TransferRoute.SamePartition => LedgerPartitioner.PartitionOf(credit, CellBank.Partitions) == debitPartition,
            TransferRoute.SameCell => LedgerPartitioner.PartitionOf(credit, CellBank.Partitions) != debitPartition
                && map.CellOf(LedgerPartitioner.PartitionOf(credit, CellBank.Partitions)) == map.CellOf(debitPartition),
            _ => map.CellOf(LedgerPartitioner.PartitionOf(credit, CellBank.Partitions)) != map.CellOf(debitPartition),
        }).ToArray();
        if (candidates.Length == 0)
        {
            candidates = [.. _customers.Where(credit => credit != debit)];
        }
        var credit = candidates[operation.Credit % candidates.Length];
        var body = new Transfer
        {
            Id = TransferId(operation.Index).ToProto(),
            DebitAccountId = debit.ToProto(),
            CreditAccountId = credit.ToProto(),
            Amount = operation.Amount,
            Currency = "GBP",
            Code = 2,
        };
        if (operation.Kind == OperationKind.Hold)
        {
            body.Flags = (uint)TransferFlags.Pending;
        }
        var sent = new SentTransfer(operation.Index, operation.Kind, body, -1);
        _sent[operation.Index] = sent;
        Statistics.Count(operation.Kind.ToString() + "/" + operation.Route);
        await SubmitAsync(sent);
    }

    private async Task ResolveHoldAsync(ScheduledOperation operation)
    {
        await _done[operation.Reference].Task.WaitAsync(_bound.Token);
        if (!_sent.TryGetValue(operation.Reference, out var hold) || hold.Outcome != TransferOutcome.Acknowledged)
        {
            Statistics.Count(operation.Kind + "/hold not acknowledged");
            return;
        }
        var body = new Transfer
        {
            Id = TransferId(operation.Index).ToProto(),
            PendingId = hold.Body.Id,
            DebitAccountId = hold.Body.DebitAccountId,
            CreditAccountId = hold.Body.CreditAccountId,
            Amount = operation.Kind == OperationKind.Post && operation.PostShortBy > 0 ? Math.Max(1, hold.Body.Amount - operation.PostShortBy) : 0,
            Currency = "GBP",
            Code = 2,
            Flags = (uint)(operation.Kind == OperationKind.Post ? TransferFlags.PostPending : TransferFlags.VoidPending),
        };
        var sent = new SentTransfer(operation.Index, operation.Kind, body, operation.Reference);
        _sent[operation.Index] = sent;
        Statistics.Count(operation.Kind.ToString());
        await SubmitAsync(sent);
    }

    /// <summary>An acknowledged transfer sent again with its id and body: the first answer again, marked duplicate, and nothing written.</summary>
    private async Task RetryAsync(ScheduledOperation operation)
    {
        await _done[operation.Reference].Task.WaitAsync(_bound.Token);
        if (!_sent.TryGetValue(operation.Reference, out var first) || first.Outcome != TransferOutcome.Acknowledged)
        {
            Statistics.Count("Retry/first not acknowledged");
            return;
        }
        try
        {
            var answer = await _bank.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest { Transfers = { first.Body }, IdNamespace = IdNamespace.Bank }, deadline: Deadline());
            var result = answer.Results[0];
            if (result.Status != TransferStatus.Ok || !result.Duplicate)
            {
                _failures.Enqueue($"retry of acknowledged transfer #{first.Index} ({first.Kind}) was answered {result.Status}, duplicate {result.Duplicate}: a retry must return the first result and write nothing");
            }
            else if (!SameDecision(first.Answer!, result.Transfer))
            {
                _failures.Enqueue($"retry of acknowledged transfer #{first.Index} answered {result.Transfer}, the first answer was {first.Answer}");
            }
            Statistics.Count("Retry/answered");
        }
        catch (RpcException error) when (IsTransient(error))
        {
            Statistics.Count("Retry/unavailable");
        }
    }

    private static bool SameDecision(Transfer first, Transfer again) =>
        first.Id.Equals(again.Id) && first.DebitAccountId.Equals(again.DebitAccountId) && first.CreditAccountId.Equals(again.CreditAccountId)
        && first.Amount == again.Amount && first.Flags == again.Flags && first.PendingId?.ToUInt128() == again.PendingId?.ToUInt128();

    /// <summary>Sends a transfer until a definite answer (or in doubt after the attempts), and records what the client was told.</summary>
    private async Task SubmitAsync(SentTransfer sent, bool draining = false)
    {
        var started = Stopwatch.GetTimestamp();
        var patience = draining ? PatienceInDrain : PatienceDuringRun;
        while (true)
        {
            try
            {
                var answer = await _bank.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest { Transfers = { sent.Body }, IdNamespace = IdNamespace.Bank }, deadline: Deadline());
                Record(sent, answer.Results[0]);
                return;
            }
            catch (RpcException error) when (IsTransient(error) && Stopwatch.GetElapsedTime(started) < patience && !_bound.IsCancellationRequested)
            {
                await Task.Delay(RetryDelayMilliseconds);
            }
            catch (RpcException error) when (IsTransient(error))
            {
                sent.Outcome = TransferOutcome.InDoubt;
                Statistics.Count("in doubt");
                return;
            }
        }
    }

    private void Record(SentTransfer sent, TransferResult result)
    {
        if (result.Status == TransferStatus.Ok)
        {
            if (sent.Outcome == TransferOutcome.Refused)
            {
                _failures.Enqueue($"transfer #{sent.Index} was refused ({sent.Status}) and later acknowledged when sent again");
            }
            sent.Answer ??= result.Transfer;
            sent.Outcome = TransferOutcome.Acknowledged;
            Statistics.Count("acknowledged");
            return;
        }
        if (sent.Outcome == TransferOutcome.Acknowledged)
        {
            _failures.Enqueue($"transfer #{sent.Index} was acknowledged and later answered {result.Status} when sent again");
            return;
        }
        sent.Outcome = TransferOutcome.Refused;
        sent.Status = result.Status;
        Statistics.Count("refused/" + result.Status);
        if (result.Status is TransferStatus.DebitAccountNotFound or TransferStatus.CreditAccountNotFound or TransferStatus.PendingTransferNotFound)
        {
            // Every account exists from the start and only acknowledged holds are posted or voided.
            Statistics.AddFalseNotFound($"transfer #{sent.Index} ({sent.Kind}) declined {result.Status}");
        }
        if (result.Status is TransferStatus.WrongOwner or TransferStatus.IdAlreadyUsedWithDifferentBody)
        {
            _failures.Enqueue($"transfer #{sent.Index} was answered {result.Status} through the router");
        }
    }

    private async Task ReadAsync(ScheduledOperation operation)
    {
        var random = new Random(operation.Debit);
        var accounts = _customers.OrderBy(_ => random.Next()).Take(6).ToArray();
        var acknowledged = _sent.Values.Where(sent => sent.Outcome == TransferOutcome.Acknowledged).Take(40).Select(sent => sent.Id).ToArray();
        try
        {
            var found = await _bank.Ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { accounts.Select(id => id.ToProto()) } }, deadline: Deadline());
            foreach (var missing in found.Missing)
            {
                Statistics.AddFalseNotFound($"read of account {missing.ToUInt128()} answered missing");
            }
            var transfers = await _bank.Ledger.GetTransfersAsync(new GetTransfersRequest { Ids = { acknowledged.Select(id => id.ToProto()) } }, deadline: Deadline());
            foreach (var missing in transfers.Missing)
            {
                Statistics.AddFalseNotFound($"read of acknowledged transfer {missing.ToUInt128()} answered missing");
            }
            await _bank.Ledger.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = accounts[0].ToProto(), Limit = 50 }, deadline: Deadline());
            Statistics.Count("Read/answered");
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            Statistics.AddFalseNotFound($"history of account {accounts[0]} answered not found");
        }
        catch (RpcException error) when (IsTransient(error))
        {
            Statistics.Count("Read/unavailable");
        }
    }

    /// <summary>
    /// A move of one of the customers' partitions; a partition whose last move was interrupted is
    /// moved on to that move's target (resumed). Killed at a step or cancelled, it is left as it
    /// is: before the release its pause ends by its lease; after, it waits for the next run.
    /// </summary>
    private async Task MoveAsync(ScheduledOperation operation)
    {
        var partition = _partitions[operation.Partition % _partitions.Length];
        var gate = _moveLocks.GetOrAdd(partition, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(_bound.Token);
        try
        {
            var map = (await _bank.Placement.ReadAsync(_bound.Token))!.Map!;
            var others = CellNames.Where(cell => cell != map.CellOf(partition)).ToArray();
            var target = _movesPending.TryGetValue(partition, out var pending) ? pending : others[operation.Target % others.Length];
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_bound.Token);
            if (operation.CancelAfterMilliseconds > 0)
            {
                cancel.CancelAfter(operation.CancelAfterMilliseconds);
            }
            if (await TryMoveAsync(partition, target, operation.KillAtStep, cancel.Token, pending is null ? "Move/done" : "Move/resumed and done")
                || operation.ResumeAfterMilliseconds == 0)
            {
                return;
            }
            // The operator runs the move again (after a release, only that ends the partition's pause).
            await Task.Delay(operation.ResumeAfterMilliseconds, _bound.Token);
            await TryMoveAsync(partition, target, killAtStep: null, _bound.Token, "Move/resumed at once and done");
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>One run of the mover; false when it was interrupted (the move is then pending, resumed by a later move or the drain).</summary>
    private async Task<bool> TryMoveAsync(int partition, string target, string? killAtStep, CancellationToken cancellationToken, string done)
    {
        var options = new PartitionMoveOptions { Grace = TimeSpan.Zero, PauseLeaseMilliseconds = 1_500, CallDeadline = TimeSpan.FromSeconds(10) };
        try
        {
            await _bank.Mover(options).MoveAsync(partition, target, killAtStep is { } step ? new KillAt(step) : null, cancellationToken);
            _movesPending.TryRemove(partition, out _);
            Statistics.Count(done);
            return true;
        }
        catch (OperationCanceledException) when (!_bound.IsCancellationRequested)
        {
            Statistics.Count(killAtStep is null ? "Move/cancelled" : "Move/killed at " + killAtStep);
        }
        catch (PartitionMoveException error)
        {
            Statistics.Count("Move/stopped: " + Shorten(error.Message));
        }
        catch (RpcException error)
        {
            // A call cut by a cell's stop can end as CANCELLED, which the mover does not wrap.
            Statistics.Count("Move/stopped by " + error.StatusCode);
        }
        _movesPending[partition] = target;
        return false;
    }

    private async Task RestartAsync(ScheduledOperation operation)
    {
        var cell = CellNames[operation.Cell % CellNames.Length];
        await _bank.StopCellAsync(cell);
        await _bank.StartCellAsync(cell);
        Statistics.Count("Restart");
    }

    private async Task CellDownAsync(ScheduledOperation operation)
    {
        var cell = CellNames[operation.Cell % CellNames.Length];
        await _bank.StopCellAsync(cell);
        await Task.Delay(operation.DownMilliseconds);
        await _bank.StartCellAsync(cell);
        Statistics.Count("Down");
    }

    /// <summary>Every cell up, every interrupted move finished, every in-doubt transfer resolved, every owed credit leg delivered.</summary>
    private async Task DrainAsync()
    {
        foreach (var cell in CellNames)
        {
            await _bank.StartCellAsync(cell);
        }
        foreach (var (partition, target) in _movesPending.OrderBy(pair => pair.Key).ToArray())
        {
            await FinishMoveAsync(partition, target);
        }
        foreach (var sent in _sent.Values.Where(sent => sent.Outcome == TransferOutcome.InDoubt).OrderBy(sent => sent.Index).ToArray())
        {
            await SubmitAsync(sent, draining: true);
            if (sent.Outcome == TransferOutcome.InDoubt)
            {
                _failures.Enqueue($"transfer #{sent.Index} is still in doubt after the drain: the ledger did not answer it");
            }
        }
        if (!await CreditLegsDeliveredAsync())
        {
            _failures.Enqueue("credit legs still owed 20 s after the drain");
        }
    }

    private async Task FinishMoveAsync(int partition, string target)
    {
        var options = new PartitionMoveOptions { Grace = TimeSpan.Zero, CallDeadline = TimeSpan.FromSeconds(20) };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _bank.Mover(options).MoveAsync(partition, target, cancellationToken: _bound.Token);
                _movesPending.TryRemove(partition, out _);
                Statistics.Count("Move/finished in the drain");
                return;
            }
            catch (PartitionMoveException error) when (attempt < 5)
            {
                Statistics.Count("Move/drain attempt failed: " + Shorten(error.Message));
                await Task.Delay(200);
            }
            catch (PartitionMoveException error)
            {
                _failures.Enqueue(Invariant($"the interrupted move of partition {partition} to {target} could not be finished: {error.Message}"));
                return;
            }
        }
    }

    private async Task<bool> CreditLegsDeliveredAsync()
    {
        for (var attempt = 0; attempt < 400; attempt++)
        {
            var owed = 0;
            foreach (var cell in CellNames)
            {
                var engine = _bank.Engine(cell)!;
                owed += (await engine.GetOwedCreditLegsAsync(100)).Count(leg => engine.Ownership.Serves(leg.Partition));
            }
            if (owed == 0)
            {
                return true;
            }
            await Task.Delay(50);
        }
        return false;
    }

    /// <summary>The invariants, read through the router as clients read, and from each cell's ownership.</summary>
    private async Task CheckAsync()
    {
        var sent = _sent.Values.ToArray();
        await CheckTransfersAsync(sent);
        var failures = new List<string>();
        var expected = new BankModel(CellBank.Partitions).Expected(sent, out var openSplitHolds, failures);
        foreach (var failure in failures)
        {
            _failures.Enqueue(failure);
        }
        await CheckBalancesAsync(expected, openSplitHolds);
        await CheckOwnershipAsync();
        await CheckHistoriesAsync(sent);
        if (Statistics.FalseNotFounds > 0)
        {
            _failures.Enqueue(Invariant($"false not-found: {Statistics.FalseNotFounds} answers said a known account or transfer does not exist: ") + string.Join("; ", Statistics.FalseNotFoundExamples));
        }
    }

    private async Task CheckTransfersAsync(IReadOnlyList<SentTransfer> sent)
    {
        var acknowledged = sent.Where(transfer => transfer.Outcome == TransferOutcome.Acknowledged).ToDictionary(transfer => transfer.Id);
        var refused = sent.Where(transfer => transfer.Outcome == TransferOutcome.Refused).ToDictionary(transfer => transfer.Id);
        var found = await GetTransfersAsync([.. acknowledged.Keys, .. refused.Keys]);
        foreach (var (id, transfer) in acknowledged)
        {
            var rows = found.Where(row => row.Id.ToUInt128() == id).ToArray();
            if (rows.Length != 1)
            {
                _failures.Enqueue($"acknowledged transfer #{transfer.Index} ({transfer.Kind}) is in the ledger {rows.Length} times, not once");
            }
            else if (!SameDecision(transfer.Answer!, rows[0]))
            {
                _failures.Enqueue($"acknowledged transfer #{transfer.Index} reads {rows[0]}, it was answered {transfer.Answer}");
            }
        }
        foreach (var (_, transfer) in refused)
        {
            if (found.Any(row => row.Id.ToUInt128() == transfer.Id))
            {
                _failures.Enqueue($"transfer #{transfer.Index} ({transfer.Kind}) was refused ({transfer.Status}) but is in the ledger");
            }
        }
    }

    private async Task<List<Transfer>> GetTransfersAsync(IReadOnlyList<UInt128> ids)
    {
        var found = new List<Transfer>();
        foreach (var chunk in ids.Chunk(1_000))
        {
            var answer = await _bank.Ledger.GetTransfersAsync(new GetTransfersRequest { Ids = { chunk.Select(id => id.ToProto()) } }, deadline: Deadline());
            found.AddRange(answer.Transfers);
        }
        return found;
    }

    private async Task CheckBalancesAsync(Dictionary<UInt128, BankModel.Balances> expected, long openSplitHolds)
    {
        var known = _customers.Append(_bankAccount).ToArray();
        var accounts = await _bank.Ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { known.Select(id => id.ToProto()) } }, deadline: Deadline());
        if (accounts.Missing.Count > 0 || accounts.Accounts.Count != known.Length)
        {
            _failures.Enqueue(Invariant($"false not-found at the end: {accounts.Missing.Count} of {known.Length} known accounts answered missing"));
        }
        Int128 total = 0;
        foreach (var account in accounts.Accounts)
        {
            var id = account.Id.ToUInt128();
            var want = expected.GetValueOrDefault(id);
            var have = new BankModel.Balances(account.DebitsPending, account.DebitsPosted, account.CreditsPending, account.CreditsPosted);
            if (want != have)
            {
                _failures.Enqueue($"balance of account {id}: the ledger says {have}, the acknowledged transfers make it {want}");
            }
            total += (Int128)account.CreditsPosted - account.DebitsPosted;
        }
        var transitIds = Enumerable.Range(0, CellBank.Partitions).Select(partition => TransitAccounts.IdOf(partition, "GBP", CellBank.Partitions)).ToArray();
        var transit = await _bank.Ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { transitIds.Select(id => id.ToProto()) } }, deadline: Deadline());
        if (transit.Refused.Count > 0)
        {
            _failures.Enqueue(Invariant($"{transit.Refused.Count} transit accounts could not be read at the end"));
        }
        Int128 transitPosted = 0;
        foreach (var account in transit.Accounts)
        {
            transitPosted += (Int128)account.CreditsPosted - account.DebitsPosted;
        }
        var transitPending = transit.Accounts.Sum(account => account.CreditsPending);
        if (transitPosted != 0)
        {
            _failures.Enqueue(Invariant($"transit accounts net to {transitPosted} across the cells after the drain, not 0"));
        }
        if (transitPending != openSplitHolds || transit.Accounts.Any(account => account.DebitsPending != 0))
        {
            _failures.Enqueue(Invariant($"transit accounts hold {transitPending} pending; the open holds between partitions are {openSplitHolds}"));
        }
        if (total + transitPosted != 0)
        {
            _failures.Enqueue(Invariant($"balances over every account of every cell sum to {total + transitPosted}, not 0"));
        }
    }

    /// <summary>Every partition owned (served) by exactly one cell, the one the map names, at the map's epoch.</summary>
    private async Task CheckOwnershipAsync()
    {
        var map = (await _bank.Placement.ReadAsync(_bound.Token))!.Map!;
        var engines = CellNames.Select(cell => _bank.Engine(cell)!).ToArray();
        for (var partition = 0; partition < CellBank.Partitions; partition++)
        {
            var owners = engines.Where(engine => engine.Ownership[partition].State == OwnershipState.Owned).ToArray();
            if (owners.Length != 1 || owners[0].Options.CellName != map.CellOf(partition) || owners[0].Ownership[partition].Epoch != map.EpochOf(partition))
            {
                _failures.Enqueue(Invariant($"partition {partition}: owned by [{string.Join(", ", owners.Select(engine => engine.Options.CellName + "@" + engine.Ownership[partition].Epoch))}], the map names {map.CellOf(partition)}@{map.EpochOf(partition)}"));
            }
        }
    }

    /// <summary>Each account's history shows every acknowledged transfer that moved its money once (both legs of one between partitions), and nothing refused.</summary>
    private async Task CheckHistoriesAsync(IReadOnlyList<SentTransfer> sent)
    {
        var acknowledged = sent.Where(transfer => transfer.Outcome == TransferOutcome.Acknowledged).ToArray();
        var refused = sent.Where(transfer => transfer.Outcome == TransferOutcome.Refused).Select(transfer => transfer.Id).ToHashSet();
        foreach (var account in _customers)
        {
            var shown = new List<UInt128>();
            var cursor = "";
            for (var page = 0; page < 100; page++)
            {
                var history = await _bank.Ledger.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = account.ToProto(), Limit = 200, Cursor = cursor }, deadline: Deadline());
                shown.AddRange(history.Transfers.Select(row => row.Id.ToUInt128()));
                cursor = history.NextCursor;
                if (cursor.Length == 0)
                {
                    break;
                }
            }
            var wanted = acknowledged.Where(transfer => transfer.DebitAccount == account
                || transfer.CreditAccount == account && transfer.Kind is OperationKind.Transfer or OperationKind.Post).Select(transfer => transfer.Id).ToHashSet();
            if (shown.Count != shown.Distinct().Count())
            {
                _failures.Enqueue($"the history of account {account} shows a transfer twice");
            }
            if (wanted.Except(shown).Any())
            {
                _failures.Enqueue(Invariant($"the history of account {account} lacks {wanted.Except(shown).Count()} acknowledged transfers (first: #{acknowledged.First(transfer => transfer.Id == wanted.Except(shown).First()).Index})"));
            }
            if (shown.Any(refused.Contains))
            {
                _failures.Enqueue($"the history of account {account} shows a refused transfer");
            }
        }
    }

    private static bool IsTransient(RpcException error) =>
        error.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.Aborted or StatusCode.Cancelled or StatusCode.ResourceExhausted;

    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(15);

    /// <summary>Ids in the bank's namespace, one per operation (funding transfers have negative operation numbers).</summary>
    private static UInt128 TransferId(int operation) => Uint128.InNamespace(IdNamespace.Bank, (UInt128)(uint)(operation + 2_000_000));

    private static string Shorten(string message) => message.Length <= 90 ? message : message[..90];

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>A mover that dies at a step: nothing after it runs, not even its own clean-up (it is a cancellation, which the mover does not clean up after).</summary>
    private sealed class KillAt(string step) : IProgress<PartitionMoveReport>
    {
        public void Report(PartitionMoveReport value)
        {
            if (value.Step == step)
            {
                throw new OperationCanceledException("mover killed at " + step);
            }
        }
    }
}

/// <summary>What a run did (for the test's output) and the false not-founds every read counted.</summary>
public sealed class RunStatistics
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _falseNotFounds = new();

    public int FalseNotFounds => _falseNotFounds.Count;

    public ConcurrentQueue<string> Phases { get; } = new();

    public IEnumerable<string> FalseNotFoundExamples => _falseNotFounds.Take(10);

    public void Count(string what) => _counts.AddOrUpdate(what, 1, (_, count) => count + 1);

    public void AddFalseNotFound(string what) => _falseNotFounds.Enqueue(what);

    public override string ToString() =>
        "[" + string.Join(", ", Phases) + "] " + string.Join(", ", _counts.OrderBy(pair => pair.Key, StringComparer.Ordinal).Select(pair => string.Create(CultureInfo.InvariantCulture, $"{pair.Key}: {pair.Value}")));
}
