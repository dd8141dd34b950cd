using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;
using FsCheck.Xunit;

namespace Bulwark.Ledger.Tests.Properties;

/// <summary>
/// Random scenarios of account creations, transfers, holds, posts (full and partial), voids,
/// expiries (the fake clock advanced, with and without a sweep) and retries (ids collide on
/// purpose, with the same or a different body). Seeded with Replay so that every run checks the
/// same cases and a failure reproduces; change the seed locally to explore further.
/// </summary>
public sealed class LedgerProperties : LedgerPropertyChecks
{
    [Property(MaxTest = 250, Replay = "(20250601,11)", Arbitrary = [typeof(LedgerArbitraries)])]
    public void Engine_RandomScenario_MatchesModelAndKeepsInvariants(Scenario scenario) => RandomScenario(scenario);

    [Property(MaxTest = 60, Replay = "(20250601,29)", Arbitrary = [typeof(LedgerArbitraries)])]
    public void Engine_ConcurrentSubmittersWithRetries_ConservesMoneyAndNeverDoubleApplies(Scenario scenario) => ConcurrentSubmitters(scenario);
}

/// <summary>The same properties on PostgreSQL, fewer cases (each case gets a database of its own).</summary>
public sealed class LedgerPropertiesPostgres : LedgerPropertyChecks
{
    [Property(MaxTest = 25, Replay = "(20250601,11)", Arbitrary = [typeof(LedgerArbitraries)])]
    public void Engine_RandomScenario_MatchesModelAndKeepsInvariants(Scenario scenario) => RandomScenario(scenario);

    [Property(MaxTest = 10, Replay = "(20250601,29)", Arbitrary = [typeof(LedgerArbitraries)])]
    public void Engine_ConcurrentSubmittersWithRetries_ConservesMoneyAndNeverDoubleApplies(Scenario scenario) => ConcurrentSubmitters(scenario);

    protected override string? NewPostgresDatabase() => PostgresTestServer.NewDatabase("props");
}

/// <summary>The property bodies, run on SQLite and on PostgreSQL by the classes above.</summary>
public abstract class LedgerPropertyChecks
{
    /// <summary>Null: SQLite. The PostgreSQL subclass returns a fresh database per case.</summary>
    protected virtual string? NewPostgresDatabase() => null;

    // The hourly sweep keeps the timer out of the way: sweeps happen only where a step asks, so
    // the model knows exactly when holds expire (and posts arriving after expiry, before a sweep,
    // are exercised too).
    private static readonly LedgerOptions Options = new() { ExpirySweepInterval = TimeSpan.FromHours(1) };

    protected void RandomScenario(Scenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        using var directory = new TempDirectory(inMemory: true);
        var ledger = TestLedger.StartAsync(directory: directory, options: Options, postgres: NewPostgresDatabase()).GetAwaiter().GetResult();
        try
        {
            var model = new LedgerModel { NowUnixMs = TestLedger.Start.ToUnixTimeMilliseconds() };
            for (var index = 0; index < scenario.Steps.Count; index++)
            {
                RunStep(ledger, model, scenario.Steps[index], index);
            }
            AssertSameState(ledger, model);
            AssertInvariants(ledger, model.Accounts.Keys, model.ForcedOutstanding);
        }
        finally
        {
            ledger.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    protected void ConcurrentSubmitters(Scenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        using var directory = new TempDirectory(inMemory: true);
        var ledger = TestLedger.StartAsync(directory: directory, options: Options, postgres: NewPostgresDatabase()).GetAwaiter().GetResult();
        try
        {
            var accounts = scenario.Steps.Where(s => s.Kind == StepKind.CreateAccounts).SelectMany(s => s.Accounts).ToArray();
            foreach (var account in accounts)
            {
                ledger.Engine.CreateAccountsAsync([account]).GetAwaiter().GetResult();
            }
            // Every submit step is a caller of its own, all at once, and each is sent twice: the
            // second send is a retry racing the first, as after a lost reply.
            var calls = scenario.Steps.Where(s => s.Kind == StepKind.Submit)
                .SelectMany(s => new[] { s.Transfers, s.Transfers })
                .Select(transfers => Task.Run(() => ledger.Engine.SubmitAsync(transfers)))
                .ToArray();
            var results = Task.WhenAll(calls).GetAwaiter().GetResult().SelectMany(r => r).Where(r => r.IsOk).ToArray();

            foreach (var perId in results.GroupBy(r => r.Transfer!.Id))
            {
                Assert.True(perId.Count(r => !r.Duplicate) <= 1, $"transfer {perId.Key} was applied more than once");
                Assert.Single(perId.Select(r => r.Transfer!.Sequence).Distinct());
            }
            var applied = results.Count(r => !r.Duplicate);
            Assert.Equal(applied, ledger.Engine.Statistics.TransfersCommitted);
            var forcedIds = results.Where(r => r.Transfer!.IsForced).Select(r => r.Transfer!.Id).Distinct().ToArray();
            var forced = ledger.Engine.GetTransfersAsync(forcedIds).GetAwaiter().GetResult();
            AssertInvariants(ledger, accounts.Select(a => a.Id).Distinct(), account => LedgerModel.ForcedOutstanding(forced, account));
        }
        finally
        {
            ledger.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static void RunStep(TestLedger ledger, LedgerModel model, Step step, int index)
    {
        switch (step.Kind)
        {
            case StepKind.CreateAccounts:
                var created = ledger.Engine.CreateAccountsAsync(step.Accounts).GetAwaiter().GetResult();
                for (var i = 0; i < created.Count; i++)
                {
                    var expected = model.CreateAccount(step.Accounts[i], out var duplicate);
                    Assert.True(new LedgerAccountResult(expected, duplicate) == created[i],
                        $"step {index} account {i}: engine {created[i]}, model {expected} duplicate={duplicate}");
                }
                break;
            case StepKind.Submit:
                var results = ledger.Engine.SubmitAsync(step.Transfers).GetAwaiter().GetResult();
                for (var i = 0; i < results.Count; i++)
                {
                    var (status, duplicate) = model.Submit(step.Transfers[i]);
                    Assert.True(status == results[i].Status && duplicate == results[i].Duplicate,
                        $"step {index} transfer {i} ({step.Transfers[i].Id}): engine {results[i].Status} duplicate={results[i].Duplicate}, model {status} duplicate={duplicate}");
                }
                break;
            case StepKind.Advance:
                ledger.Time.Advance(TimeSpan.FromMilliseconds(step.AdvanceMilliseconds));
                model.NowUnixMs += step.AdvanceMilliseconds;
                if (step.Sweep)
                {
                    ledger.Engine.ExpireHoldsAsync().GetAwaiter().GetResult();
                    model.ExpireDue();
                }
                break;
            default:
                throw new InvalidOperationException($"Unknown step {step.Kind}.");
        }
    }

    private static void AssertSameState(TestLedger ledger, LedgerModel model)
    {
        var accounts = ledger.Engine.GetAccountsAsync(model.Accounts.Keys.ToArray()).GetAwaiter().GetResult();
        Assert.Equal(model.Accounts.Count, accounts.Count);
        foreach (var account in accounts)
        {
            var expected = model.Accounts[account.Id];
            Assert.True(
                (expected.DebitsPending, expected.DebitsPosted, expected.CreditsPending, expected.CreditsPosted)
                == (account.DebitsPending, account.DebitsPosted, account.CreditsPending, account.CreditsPosted),
                $"account {account.Id}: engine {account}, model dp={expected.DebitsPending} dpo={expected.DebitsPosted} cp={expected.CreditsPending} cpo={expected.CreditsPosted}");
        }
        var transfers = ledger.Engine.GetTransfersAsync(model.Transfers.Keys.ToArray()).GetAwaiter().GetResult();
        Assert.Equal(model.Transfers.Count, transfers.Count);
        Assert.Equal(model.Transfers.Count, ledger.Engine.Statistics.TransfersCommitted);
        foreach (var transfer in transfers)
        {
            var expected = model.Transfers[transfer.Id];
            Assert.True(
                (expected.State, expected.Amount, expected.PostedAmount, expected.DebitAccountId, expected.CreditAccountId)
                == (transfer.State, transfer.Amount, transfer.PostedAmount, transfer.DebitAccountId, transfer.CreditAccountId),
                $"transfer {transfer.Id}: engine {transfer}, model {expected}");
        }
    }

    /// <summary>
    /// Money conserved, no limited account beyond its limit except by forced debits, balances
    /// equal to the transfer log.
    /// </summary>
    private static void AssertInvariants(TestLedger ledger, IEnumerable<UInt128> accountIds, Func<UInt128, decimal>? forcedOutstanding = null)
    {
        var accounts = ledger.Engine.GetAccountsAsync(accountIds.ToArray()).GetAwaiter().GetResult();
        Assert.Equal(0, accounts.Sum(a => (decimal)a.CreditsPosted - a.DebitsPosted));
        Assert.Equal(0, accounts.Sum(a => (decimal)a.CreditsPending - a.DebitsPending));
        foreach (var account in accounts.Where(a => (a.Flags & AccountFlags.DebitsMustNotExceedCredits) != 0))
        {
            var forced = forcedOutstanding?.Invoke(account.Id) ?? 0m;
            Assert.True((decimal)account.DebitsPending + account.DebitsPosted - forced <= (decimal)account.CreditsPosted + account.OverdraftLimit,
                $"limited account {account.Id} exceeds its limit: {account}");
        }
        var report = ledger.Check();
        Assert.True(report.Ok, string.Join(Environment.NewLine, report.Problems));
    }
}
