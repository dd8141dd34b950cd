using System.Collections.Concurrent;
using System.Globalization;
using Bulwark.Coherence.Synthetic;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Placement;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Coherence.Checking;

/// <summary>
/// One cell's round: in one partition the cell owns (the next in turn, taken from the current
/// placement map, so checks follow partitions as they move), read the cell's previous acknowledged
/// write again, make a new one and read it back through the ledger (routed to the partition's
/// owner), through the feed and through the app API (<see cref="AppReadCheck"/>). Every call goes through the services' contracts, the ledger through
/// its placement router, as every client's. Never throws for an operating error: each check ends
/// as ok, missing, error or timeout.
/// </summary>
internal sealed partial class CellCheck(LedgerClient ledger, FeedClient feed, AppReadCheck app, TimeProvider time, ILogger<CellCheck> logger)
{
    /// <summary>A write the ledger acknowledged: where it went and what it was.</summary>
    private sealed record Write(int Partition, int PartitionCount, UInt128 ProbeAccountId, UInt128 TransferId, long TimestampUnixMs);

    private readonly ConcurrentDictionary<string, Write> _lastWrite = new(StringComparer.Ordinal);

    public async Task<IReadOnlyList<CheckOutcome>> RunAsync(string cell, PlacementMap map, long round, CancellationToken budget)
    {
        var owned = map.PartitionsOf(cell);
        if (owned.Count == 0)
        {
            // A cell added to the map owns nothing until partitions move to it: nothing of it to check yet.
            return [];
        }
        var outcomes = new List<CheckOutcome>(CoherenceCheck.All.Count);
        if (_lastWrite.TryGetValue(cell, out var previous))
        {
            outcomes.Add(await CheckAsync(cell, CoherenceCheck.LedgerReread, previous, () => LedgerShowsAsync(previous, budget), budget));
        }
        var partition = owned[(int)(round % owned.Count)];
        var intended = new Write(partition, map.PartitionCount, SyntheticAccounts.Probe(partition, map.PartitionCount), NewTransferId(), 0);
        Write? written = null;
        var write = await CheckAsync(cell, CoherenceCheck.LedgerWrite, intended, async () =>
        {
            (written, var detail) = await WriteAsync(intended, budget);
            return written is null ? (CoherenceResult.Error, detail) : (CoherenceResult.Ok, detail);
        }, budget);
        outcomes.Add(write);
        if (written is null)
        {
            return outcomes;
        }
        _lastWrite[cell] = written;
        outcomes.Add(await CheckAsync(cell, CoherenceCheck.LedgerRead, written, () => LedgerShowsAsync(written, budget), budget));
        outcomes.Add(await CheckAsync(cell, CoherenceCheck.FeedRead, written, () => FeedShowsAsync(written, budget), budget));
        if (app.Enabled)
        {
            outcomes.Add(await CheckAsync(cell, CoherenceCheck.AppRead, written, () => app.ShowsAsync(written.ProbeAccountId, written.TransferId, budget), budget));
        }
        return outcomes;
    }

    /// <summary>Forgets the cells' previous writes (a checker that starts again knows none).</summary>
    public void Forget() => _lastWrite.Clear();

    private static UInt128 NewTransferId() =>
        Uint128.InNamespace(IdNamespace.Bank, new UInt128(SyntheticAccounts.TransferIdMarker, (ulong)Random.Shared.NextInt64(1, long.MaxValue)));

    private async Task<CheckOutcome> CheckAsync(string cell, string check, Write write, Func<Task<(string Result, string Detail)>> run, CancellationToken budget)
    {
        string result;
        string detail;
        try
        {
            (result, detail) = budget.IsCancellationRequested ? (CoherenceResult.Timeout, "the cell's budget ran out before this check") : await run();
        }
        catch (RpcException error) when (budget.IsCancellationRequested || error.StatusCode is StatusCode.DeadlineExceeded)
        {
            (result, detail) = (CoherenceResult.Timeout, $"{error.StatusCode}: {error.Status.Detail}");
        }
        catch (OperationCanceledException) when (budget.IsCancellationRequested)
        {
            (result, detail) = (CoherenceResult.Timeout, "the cell's budget ran out");
        }
        catch (RpcException error)
        {
            (result, detail) = (CoherenceResult.Error, $"{error.StatusCode}: {error.Status.Detail}");
        }
        catch (AppApiException error)
        {
            (result, detail) = (CoherenceResult.Error, error.Message);
        }
        catch (HttpRequestException error)
        {
            // No edge answered (refused, reset): the app API could not be asked.
            (result, detail) = (CoherenceResult.Error, "no edge answered: " + error.Message);
        }
        catch (System.Text.Json.JsonException error)
        {
            (result, detail) = (CoherenceResult.Error, "the app API's answer is not the JSON expected: " + error.Message);
        }
        catch (InvalidOperationException error)
        {
            // The router without a usable placement map, a channel without endpoints: the check could not be made.
            (result, detail) = (CoherenceResult.Error, error.Message);
        }
        var outcome = new CheckOutcome(cell, check, result, write.Partition, write.ProbeAccountId, write.TransferId, detail, time.GetUtcNow());
        Log(outcome);
        return outcome;
    }

    private void Log(CheckOutcome outcome)
    {
        var account = Hex(outcome.AccountId);
        var transfer = Hex(outcome.TransferId);
        switch (outcome.Result)
        {
            case CoherenceResult.Ok:
                LogPassed(logger, outcome.Check, outcome.Cell, outcome.Partition, account, transfer);
                break;
            case CoherenceResult.Missing:
                LogMissing(logger, outcome.Check, outcome.Cell, outcome.Partition, account, transfer, outcome.Detail);
                break;
            default:
                LogFailed(logger, outcome.Check, outcome.Cell, outcome.Result, outcome.Partition, account, transfer, outcome.Detail);
                break;
        }
    }

    /// <summary>Creates the partition's synthetic accounts (idempotent) and pays one minor unit from its funding account into its probe.</summary>
    private async Task<(Write? Written, string Detail)> WriteAsync(Write intended, CancellationToken budget)
    {
        var funding = SyntheticAccounts.Funding(intended.Partition, intended.PartitionCount);
        var created = await ledger.CreateAccountsAsync(new CreateAccountsRequest
        {
            Accounts =
            {
                new Account { Id = ToProto(funding), Currency = SyntheticAccounts.Currency, Code = SyntheticAccounts.FundingCode },
                new Account { Id = ToProto(intended.ProbeAccountId), Currency = SyntheticAccounts.Currency, Code = SyntheticAccounts.ProbeCode },
            },
        }, cancellationToken: budget);
        if (created.Results.FirstOrDefault(result => result.Status != CreateAccountStatus.Ok) is { } refused)
        {
            return (null, $"creating the synthetic accounts: {refused.Status}");
        }
        var submitted = await ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers =
            {
                new Transfer
                {
                    Id = ToProto(intended.TransferId),
                    DebitAccountId = ToProto(funding),
                    CreditAccountId = ToProto(intended.ProbeAccountId),
                    Amount = 1,
                    Currency = SyntheticAccounts.Currency,
                    Code = SyntheticAccounts.TransferCode,
                    Metadata = { ["description"] = "Coherence check", ["category"] = "general" },
                },
            },
        }, cancellationToken: budget);
        var answer = submitted.Results.Single();
        return answer.Status == TransferStatus.Ok
            ? (intended with { TimestampUnixMs = answer.Transfer.TimestampUnixMs }, "acknowledged")
            : (null, $"the transfer was refused: {answer.Status}");
    }

    /// <summary>The write among the probe account's transfers since it was made, read from the partition's owner (bounded pages).</summary>
    private async Task<(string Result, string Detail)> LedgerShowsAsync(Write write, CancellationToken budget)
    {
        var cursor = "";
        for (var page = 0; page < CoherenceLimits.ReadPagesMax; page++)
        {
            ListAccountTransfersResponse answer;
            try
            {
                answer = await ledger.ListAccountTransfersAsync(new ListAccountTransfersRequest
                {
                    AccountId = ToProto(write.ProbeAccountId),
                    Cursor = cursor,
                    Limit = CoherenceLimits.ReadPageSize,
                    SinceUnixMs = write.TimestampUnixMs,
                }, cancellationToken: budget);
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
            {
                return (CoherenceResult.Missing, "the ledger does not know the probe account that held the acknowledged write");
            }
            if (answer.Transfers.Any(transfer => FromProto(transfer.Id) == write.TransferId))
            {
                return (CoherenceResult.Ok, "seen");
            }
            if (answer.NextCursor.Length == 0)
            {
                return (CoherenceResult.Missing, "the ledger answered, and the acknowledged transfer is not among the probe account's transfers");
            }
            cursor = answer.NextCursor;
        }
        return (CoherenceResult.Missing, $"not in the first {CoherenceLimits.ReadPagesMax} pages of the probe account's transfers since it was written");
    }

    /// <summary>The write in the probe account's feed, as a customer's app reads it (bounded pages, newest first).</summary>
    private async Task<(string Result, string Detail)> FeedShowsAsync(Write write, CancellationToken budget)
    {
        var cursor = "";
        var transferId = Hex(write.TransferId);
        for (var page = 0; page < CoherenceLimits.ReadPagesMax; page++)
        {
            Bulwark.Feed.Protos.ListFeedResponse answer;
            try
            {
                answer = await feed.ListFeedAsync(new Bulwark.Feed.Protos.ListFeedRequest
                {
                    LedgerAccountId = Hex(write.ProbeAccountId),
                    Cursor = cursor,
                    Limit = CoherenceLimits.ReadPageSize,
                }, cancellationToken: budget);
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
            {
                return (CoherenceResult.Missing, "the feed does not know the probe account that held the acknowledged write");
            }
            if (answer.Items.Any(item => string.Equals(item.TransferId, transferId, StringComparison.OrdinalIgnoreCase)))
            {
                return (CoherenceResult.Ok, "seen");
            }
            if (answer.NextCursor.Length == 0)
            {
                return (CoherenceResult.Missing, "the feed answered, and the acknowledged transfer is not in the probe account's feed");
            }
            cursor = answer.NextCursor;
        }
        return (CoherenceResult.Missing, $"not in the first {CoherenceLimits.ReadPagesMax} pages of the probe account's feed");
    }

    private static Uint128 ToProto(UInt128 value) => new() { High = (ulong)(value >> 64), Low = (ulong)value };

    private static UInt128 FromProto(Uint128? value) => value is null ? UInt128.Zero : new UInt128(value.High, value.Low);

    private static string Hex(UInt128 value) => value.ToString("x32", CultureInfo.InvariantCulture);

    [LoggerMessage(EventId = 9101, Level = LogLevel.Error,
        Message = "Coherence check {Check} in cell {Cell}: an acknowledged write is missing: partition {Partition}, account {AccountId}, transfer {TransferId}: {Detail}")]
    private static partial void LogMissing(ILogger logger, string check, string cell, int partition, string accountId, string transferId, string detail);

    [LoggerMessage(EventId = 9102, Level = LogLevel.Warning,
        Message = "Coherence check {Check} in cell {Cell} could not be made ({Result}): partition {Partition}, account {AccountId}, transfer {TransferId}: {Detail}")]
    private static partial void LogFailed(ILogger logger, string check, string cell, string result, int partition, string accountId, string transferId, string detail);

    [LoggerMessage(EventId = 9103, Level = LogLevel.Debug,
        Message = "Coherence check {Check} in cell {Cell} passed: partition {Partition}, account {AccountId}, transfer {TransferId}")]
    private static partial void LogPassed(ILogger logger, string check, string cell, int partition, string accountId, string transferId);
}
