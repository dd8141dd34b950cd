using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Engine;

/// <summary>Single-phase transfers: every status that does not involve a hold.</summary>
public sealed class SubmitTransfersTests
{
    /// <summary>Account 1 is the bank (no limit), 2 and 3 are customers limited to their credits.</summary>
    private static async Task<TestLedger> BankAsync()
    {
        var ledger = await StartAsync();
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2, AccountFlags.DebitsMustNotExceedCredits);
        await ledger.AccountAsync(3, AccountFlags.DebitsMustNotExceedCredits);
        return ledger;
    }

    [Fact]
    public async Task Submit_SinglePhase_PostsBothSidesWithLedgerSetFields()
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 1_000) with
        {
            Metadata = new Dictionary<string, string> { ["description"] = "Salary" },
        });

        Assert.Equal(TransferStatus.Ok, result.Status);
        Assert.False(result.Duplicate);
        var committed = result.Transfer!;
        Assert.Equal(TransferState.Posted, committed.State);
        Assert.Equal(1, committed.Sequence);
        Assert.Equal(Start.ToUnixTimeMilliseconds(), committed.TimestampUnixMs);
        Assert.Equal(committed, await ledger.GetTransferAsync(Id(10)));
        Assert.Equal(1_000, (await ledger.GetAccountAsync(Id(1))).DebitsPosted);
        Assert.Equal(1_000, (await ledger.GetAccountAsync(Id(2))).CreditsPosted);
    }

    [Fact]
    public async Task Submit_SameIdSameBody_ReturnsOriginalAsDuplicateAndWritesNothing()
    {
        await using var ledger = await BankAsync();
        var transfer = Transfer(10, Id(1), Id(2), 1_000) with { Metadata = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" } };
        var first = await ledger.SubmitAsync(transfer);
        ledger.Time.Advance(TimeSpan.FromSeconds(30));

        var retry = await ledger.SubmitAsync(transfer with { Metadata = new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" } });

        Assert.Equal(TransferStatus.Ok, retry.Status);
        Assert.True(retry.Duplicate);
        Assert.Equal(first.Transfer, retry.Transfer);
        Assert.Equal(1_000, (await ledger.GetAccountAsync(Id(2))).CreditsPosted);
        Assert.Equal(1, ledger.Engine.Statistics.TransfersCommitted);
    }

    public static TheoryData<string, LedgerTransfer> DifferentBodies()
    {
        var original = Transfer(10, Id(1), Id(2), 1_000);
        return new()
        {
            { "amount", original with { Amount = 999 } },
            { "debit", original with { DebitAccountId = Id(3) } },
            { "credit", original with { CreditAccountId = Id(3) } },
            { "code", original with { Code = 4 } },
            { "flags", original with { Flags = TransferFlags.Pending } },
            { "metadata", original with { Metadata = new Dictionary<string, string> { ["description"] = "x" } } },
        };
    }

    [Theory]
    [MemberData(nameof(DifferentBodies))]
    public async Task Submit_SameIdDifferentBody_IdAlreadyUsedWithDifferentBody(string field, LedgerTransfer different)
    {
        await using var ledger = await BankAsync();
        await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 1_000));

        var result = await ledger.SubmitAsync(different);

        Assert.True(TransferStatus.IdAlreadyUsedWithDifferentBody == result.Status, field);
        Assert.Equal(1_000, (await ledger.GetTransferAsync(Id(10))).Amount);
    }

    [Fact]
    public async Task Submit_ZeroId_IdMustNotBeZero()
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(0, Id(1), Id(2), 1));

        Assert.Equal(TransferStatus.IdMustNotBeZero, result.Status);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    public async Task Submit_AmountNotPositive_AmountMustBePositive(long amount)
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), amount));

        Assert.Equal(TransferStatus.AmountMustBePositive, result.Status);
        Assert.Empty(await ledger.Engine.GetTransfersAsync([Id(10)]));
    }

    [Fact]
    public async Task Submit_SameAccountBothSides_AccountsMustBeDifferent()
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(1), 5));

        Assert.Equal(TransferStatus.AccountsMustBeDifferent, result.Status);
    }

    [Fact]
    public async Task Submit_UnknownDebitAccount_DebitAccountNotFound()
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(99), Id(2), 5));

        Assert.Equal(TransferStatus.DebitAccountNotFound, result.Status);
    }

    [Fact]
    public async Task Submit_UnknownCreditAccount_CreditAccountNotFound()
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(99), 5));

        Assert.Equal(TransferStatus.CreditAccountNotFound, result.Status);
    }

    [Theory]
    [InlineData("")]
    [InlineData("QQQ")]
    [InlineData("gbp")]
    public async Task Submit_NotAnActiveIsoCurrency_UnknownCurrency(string currency)
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5) with { Currency = currency });

        Assert.Equal(TransferStatus.UnknownCurrency, result.Status);
    }

    [Fact]
    public async Task Submit_TransferCurrencyDiffersFromAccounts_CurrencyMismatch()
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5) with { Currency = "EUR" });

        Assert.Equal(TransferStatus.CurrencyMismatch, result.Status);
    }

    [Fact]
    public async Task Submit_AccountsInDifferentCurrencies_CurrencyMismatch()
    {
        await using var ledger = await BankAsync();
        await ledger.AccountAsync(4, currency: "EUR");

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(4), 5));

        Assert.Equal(TransferStatus.CurrencyMismatch, result.Status);
    }

    [Fact]
    public async Task Submit_LimitedAccountBeyondCredits_ExceedsCreditsAndNothingWritten()
    {
        await using var ledger = await BankAsync();
        await ledger.TransferOkAsync(10, Id(1), Id(2), 100);

        var result = await ledger.SubmitAsync(Transfer(11, Id(2), Id(3), 101));

        Assert.Equal(TransferStatus.ExceedsCredits, result.Status);
        Assert.Null(result.Transfer);
        Assert.Equal(0, (await ledger.GetAccountAsync(Id(2))).DebitsPosted);
        Assert.Empty(await ledger.Engine.GetTransfersAsync([Id(11)]));
    }

    [Fact]
    public async Task Submit_LimitedAccountExactlyToCreditsPlusOverdraft_OkAndOnePenceMoreExceeds()
    {
        await using var ledger = await BankAsync();
        await ledger.AccountAsync(5, AccountFlags.DebitsMustNotExceedCredits, overdraft: 50);
        await ledger.TransferOkAsync(10, Id(1), Id(5), 100);

        var exact = await ledger.SubmitAsync(Transfer(11, Id(5), Id(3), 150));
        var more = await ledger.SubmitAsync(Transfer(12, Id(5), Id(3), 1));

        Assert.Equal(TransferStatus.Ok, exact.Status);
        Assert.Equal(TransferStatus.ExceedsCredits, more.Status);
    }

    [Fact]
    public async Task Submit_PendingHoldsCountAgainstTheLimit_ExceedsCredits()
    {
        await using var ledger = await BankAsync();
        await ledger.TransferOkAsync(10, Id(1), Id(2), 100);
        await ledger.TransferOkAsync(11, Id(2), Id(3), 60, TransferFlags.Pending);

        var result = await ledger.SubmitAsync(Transfer(12, Id(2), Id(3), 41));

        Assert.Equal(TransferStatus.ExceedsCredits, result.Status);
    }

    [Fact]
    public async Task Submit_DeclinedThenRetriedAfterFunding_EvaluatedAfreshAndOk()
    {
        await using var ledger = await BankAsync();
        var spend = Transfer(11, Id(2), Id(3), 50);
        Assert.Equal(TransferStatus.ExceedsCredits, (await ledger.SubmitAsync(spend)).Status);
        await ledger.TransferOkAsync(10, Id(1), Id(2), 50);

        var retry = await ledger.SubmitAsync(spend);

        Assert.Equal(TransferStatus.Ok, retry.Status);
        Assert.False(retry.Duplicate);
    }

    [Fact]
    public async Task Submit_CreditNearLongMaxValue_OverflowAndNothingWritten()
    {
        await using var ledger = await BankAsync();
        await ledger.TransferOkAsync(10, Id(1), Id(2), long.MaxValue - 10);

        var over = await ledger.SubmitAsync(Transfer(11, Id(1), Id(2), 11));
        var exact = await ledger.SubmitAsync(Transfer(12, Id(1), Id(3), 10));

        Assert.Equal(TransferStatus.Overflow, over.Status);
        Assert.Equal(TransferStatus.Ok, exact.Status);
        Assert.Equal(long.MaxValue - 10, (await ledger.GetAccountAsync(Id(2))).CreditsPosted);
    }

    [Fact]
    public async Task Submit_DebitNearLongMaxValue_Overflow()
    {
        await using var ledger = await BankAsync();
        await ledger.TransferOkAsync(10, Id(1), Id(2), long.MaxValue);

        var result = await ledger.SubmitAsync(Transfer(11, Id(1), Id(3), 1));

        Assert.Equal(TransferStatus.Overflow, result.Status);
    }

    [Fact]
    public async Task Submit_PendingPlusPostedWouldPassLongMaxValue_Overflow()
    {
        await using var ledger = await BankAsync();
        await ledger.TransferOkAsync(10, Id(1), Id(2), long.MaxValue - 5, TransferFlags.Pending);

        var result = await ledger.SubmitAsync(Transfer(11, Id(1), Id(3), 6));

        Assert.Equal(TransferStatus.Overflow, result.Status);
    }

    [Theory]
    [InlineData(TransferFlags.Pending | TransferFlags.PostPending)]
    [InlineData(TransferFlags.PostPending | TransferFlags.VoidPending)]
    [InlineData((TransferFlags)8)]
    public async Task Submit_FlagsNotOneKnownFlag_InvalidFlags(TransferFlags flags)
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5) with { Flags = flags, PendingId = Id(7) });

        Assert.Equal(TransferStatus.InvalidFlags, result.Status);
    }

    [Fact]
    public async Task Submit_PendingIdWithoutPostOrVoid_InvalidFlags()
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5) with { PendingId = Id(7) });

        Assert.Equal(TransferStatus.InvalidFlags, result.Status);
    }

    [Fact]
    public async Task Submit_TimeoutOnSinglePhase_TimeoutReservedForPending()
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5, timeoutSeconds: 60));

        Assert.Equal(TransferStatus.TimeoutReservedForPending, result.Status);
    }

    public static TheoryData<string, Dictionary<string, string>> OversizedMetadata() => new()
    {
        { "entries", Enumerable.Range(0, LedgerLimits.MetadataEntriesMax + 1).ToDictionary(i => $"k{i}", _ => "v") },
        { "value", new Dictionary<string, string> { ["description"] = new string('x', LedgerLimits.MetadataValueBytesMax + 1) } },
        { "multibyte value", new Dictionary<string, string> { ["description"] = new string('é', (LedgerLimits.MetadataValueBytesMax / 2) + 1) } },
        { "key", new Dictionary<string, string> { [new string('k', LedgerLimits.MetadataKeyBytesMax + 1)] = "v" } },
    };

    [Theory]
    [MemberData(nameof(OversizedMetadata))]
    public async Task Submit_MetadataBeyondLimits_MetadataTooLarge(string what, Dictionary<string, string> metadata)
    {
        await using var ledger = await BankAsync();

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5) with { Metadata = metadata });

        Assert.True(TransferStatus.MetadataTooLarge == result.Status, what);
    }

    [Fact]
    public async Task Submit_MetadataAtEveryLimit_OkAndStoredVerbatim()
    {
        await using var ledger = await BankAsync();
        var metadata = Enumerable.Range(0, LedgerLimits.MetadataEntriesMax)
            .ToDictionary(i => $"{i:D2}" + new string('k', LedgerLimits.MetadataKeyBytesMax - 2), i => new string((char)('a' + i), LedgerLimits.MetadataValueBytesMax));

        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5) with { Metadata = metadata });

        Assert.Equal(TransferStatus.Ok, result.Status);
        Assert.True(LedgerTransfer.MetadataEquals(metadata, (await ledger.GetTransferAsync(Id(10))).Metadata));
    }

    [Fact]
    public async Task Submit_MetadataChangedByCallerAfterSubmit_CommittedCopyUnchanged()
    {
        await using var ledger = await BankAsync();
        var metadata = new Dictionary<string, string> { ["description"] = "Coffee" };
        var result = await ledger.SubmitAsync(Transfer(10, Id(1), Id(2), 5) with { Metadata = metadata });

        metadata["description"] = "Changed";

        Assert.Equal("Coffee", result.Transfer!.Metadata["description"]);
        Assert.Equal("Coffee", (await ledger.GetTransferAsync(Id(10))).Metadata["description"]);
    }

    [Fact]
    public async Task Submit_OneCall_LaterTransferSeesEarlierOnes()
    {
        await using var ledger = await BankAsync();

        var results = await ledger.Engine.SubmitAsync(
        [
            Transfer(10, Id(2), Id(3), 70),   // declined: nothing credited yet
            Transfer(11, Id(1), Id(2), 100),
            Transfer(12, Id(2), Id(3), 70),   // now funded
            Transfer(13, Id(2), Id(3), 31),   // 70 + 31 > 100
            Transfer(11, Id(1), Id(2), 100),  // duplicate of one decided in the same batch
        ]);

        Assert.Equal(
            [TransferStatus.ExceedsCredits, TransferStatus.Ok, TransferStatus.Ok, TransferStatus.ExceedsCredits, TransferStatus.Ok],
            results.Select(result => result.Status));
        Assert.True(results[4].Duplicate);
        Assert.Equal(results[1].Transfer, results[4].Transfer);
        Assert.Equal([1L, 2L], results.Where(r => r.IsOk && !r.Duplicate).Select(r => r.Transfer!.Sequence));
    }

    [Fact]
    public async Task Submit_TooManyInOneCall_ArgumentOutOfRangeNamingTransfers()
    {
        await using var ledger = await BankAsync();
        var transfers = Enumerable.Range(1, LedgerLimits.SubmitTransfersMax + 1).Select(i => Transfer(i, Id(1), Id(2), 1)).ToArray();

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => ledger.Engine.SubmitAsync(transfers));

        Assert.Equal("transfers", error.ParamName);
    }

    [Fact]
    public async Task Submit_Empty_NoResults()
    {
        await using var ledger = await BankAsync();

        Assert.Empty(await ledger.Engine.SubmitAsync([]));
    }

    [Fact]
    public async Task Submit_AfterStop_LedgerUnavailable()
    {
        var ledger = await BankAsync();
        await ledger.DisposeAsync();

        await Assert.ThrowsAsync<LedgerUnavailableException>(() => ledger.Engine.SubmitAsync([Transfer(10, Id(1), Id(2), 1)]));
    }

    [Fact]
    public async Task Submit_AfterRestartWithAnEarlierClock_TimestampsAndSequencesStillIncrease()
    {
        using var directory = new TempDirectory();
        LedgerTransfer first;
        await using (var before = await StartAsync(directory: directory, time: new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Start + TimeSpan.FromHours(1))))
        {
            await before.AccountAsync(1);
            await before.AccountAsync(2);
            first = await before.TransferOkAsync(10, Id(1), Id(2), 1);
        }
        await using var after = await StartAsync(directory: directory);

        var second = await after.TransferOkAsync(11, Id(1), Id(2), 1);

        Assert.True(second.TimestampUnixMs >= first.TimestampUnixMs);
        Assert.Equal(first.Sequence + 1, second.Sequence);
        Assert.Equal(2, (await after.GetAccountAsync(Id(2))).CreditsPosted);
    }
}
