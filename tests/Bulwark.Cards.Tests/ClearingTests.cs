using System.Globalization;
using System.Text;
using Bulwark.Cards.Clearing;
using Bulwark.Feed.Protos;
using Bulwark.Iso8583;
using Bulwark.Ledger.Protos;

namespace Bulwark.Cards.Tests;

/// <summary>BWCLR clearing files (docs/reference/clearing-file.md) ingested against real holds.</summary>
public sealed class ClearingTests : IAsyncLifetime
{
    private CardsBank _bank = null!;

    public async Task InitializeAsync() => _bank = await CardsBank.StartAsync();

    public async Task DisposeAsync() => await _bank.DisposeAsync();

    [Fact]
    public async Task ReleaseUnpresented_HoldNeverPresented_VoidedOnceAndPresentedHoldKept()
    {
        await using var scheme = await _bank.ConnectAsync();
        var presented = Messages.NextStan();
        var forgotten = Messages.NextStan();
        Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 2_000, presented, _bank.Expiry))).GetResponseCode());
        Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 700, forgotten, _bank.Expiry))).GetResponseCode());
        var path = WriteFile("BWS-TEST-REL", [Line("P-R1", 'E', Messages.Rrn(presented), "000001", "Dishoom", "5812", 2_000, 2_000)]);
        Assert.Equal(1, (await _bank.Clearing.IngestFileAsync(path, CancellationToken.None)).Matched);

        // Every hold approved before the cutoff (here: a minute from now) that clearing did not claim.
        var released = await _bank.Clearing.ReleaseUnpresentedAsync(DateTimeOffset.UtcNow.AddMinutes(1), 100, CancellationToken.None);
        var again = await _bank.Clearing.ReleaseUnpresentedAsync(DateTimeOffset.UtcNow.AddMinutes(1), 100, CancellationToken.None);

        Assert.Equal(1, released);
        Assert.Equal(0, again);
        var account = await _bank.CustomerAccountAsync();
        Assert.Equal(0, account.DebitsPending);
        Assert.Equal(2_000, account.DebitsPosted);
        Assert.Contains((await _bank.FeedAsync()).Items, item => item.State == FeedItemState.Released && item.Amount == -700);
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Ingest_MatchedSmallerLargerUnmatchedAndDuplicate_EachPostedOnce()
    {
        await using var scheme = await _bank.ConnectAsync();
        var smaller = Messages.NextStan();
        var larger = Messages.NextStan();
        Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 2_000, smaller, _bank.Expiry))).GetResponseCode());
        Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 1_000, larger, _bank.Expiry, merchant: "Uber", mcc: "4121"))).GetResponseCode());

        var lines = new[]
        {
            Line("P-1", 'E', Messages.Rrn(smaller), "000001", "Dishoom", "5812", 2_000, 1_800),
            Line("P-2", 'T', Messages.Rrn(larger), "000002", "Uber", "4121", 1_000, 1_200),
            Line("P-3", 'N', "999999999999", "", "Corner Shop", "5411", 0, 500),
            Line("P-1", 'E', Messages.Rrn(smaller), "000001", "Dishoom", "5812", 2_000, 1_800),
        };
        var path = WriteFile("BWS-TEST-01", lines);

        var report = await _bank.Clearing.IngestFileAsync(path, CancellationToken.None);
        Assert.Equal(4, report.Presentments);
        Assert.Equal(2, report.Matched);
        Assert.Equal(2, report.AmountChanged);
        Assert.Equal(1, report.ForcePosted);
        Assert.Equal(1, report.Duplicates);
        Assert.Empty(report.Refused);

        var account = await _bank.CustomerAccountAsync();
        Assert.Equal(0, account.DebitsPending);
        Assert.Equal(1_800 + 1_200 + 500, account.DebitsPosted);

        var feed = (await _bank.FeedAsync()).Items;
        var dishoom = Assert.Single(feed, item => item.MerchantName == "Dishoom");
        Assert.Equal(FeedItemState.Settled, dishoom.State);
        Assert.Equal(-1_800, dishoom.Amount);
        Assert.Equal(-2_000, dishoom.OriginalAmount);
        Assert.Contains(feed, item => item.MerchantName == "Corner Shop" && item.State == FeedItemState.Settled);

        // The same file again (a retry after a crash): nothing posts twice.
        var again = await _bank.Clearing.IngestFileAsync(path, CancellationToken.None);
        Assert.Equal(4, again.Duplicates);
        Assert.Equal(1_800 + 1_200 + 500, (await _bank.CustomerAccountAsync()).DebitsPosted);
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Ingest_ReversedAuthorisationPresentedAnyway_ForcePosted()
    {
        await using var scheme = await _bank.ConnectAsync();
        var stan = Messages.NextStan();
        Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 600, stan, _bank.Expiry))).GetResponseCode());
        Assert.Equal("00", (await scheme.RoundTripAsync(Messages.Reversal(_bank.Pan, 600, stan, Messages.NextStan()))).GetResponseCode());

        var report = await _bank.Clearing.IngestFileAsync(WriteFile("BWS-TEST-02", [Line("P-9", 'E', Messages.Rrn(stan), "000009", "Dishoom", "5812", 600, 600)]), CancellationToken.None);
        Assert.Equal(1, report.ForcePosted);
        Assert.Equal(600, (await _bank.CustomerAccountAsync()).DebitsPosted);
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Ingest_UnmatchedPresentmentBeyondTheBalance_ForcePostedPastTheOverdraft()
    {
        var line = Line("P-10", 'N', "666666666666", "", "Airline", "4511", 0, CardsBank.OpeningBalance + 5_000);

        var report = await _bank.Clearing.IngestFileAsync(WriteFile("BWS-TEST-05", [line]), CancellationToken.None);

        Assert.Equal(1, report.ForcePosted);
        Assert.Empty(report.Refused);
        var account = await _bank.CustomerAccountAsync();
        Assert.Equal((CardsBank.OpeningBalance + 5_000, CardsBank.OpeningBalance), (account.DebitsPosted, account.CreditsPosted));
        Assert.Contains((await _bank.FeedAsync()).Items, item => item.MerchantName == "Airline" && item.State == FeedItemState.Settled);
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Ingest_ForcePostIdTakenByAnotherTransfer_PostedUnderAnAlternativeIdOnceNotLeftUnposted()
    {
        // Issue 11: a transfer already holds the id the presentment's force-post derives (as one
        // made before id namespaces could). Before, the presentment was refused and stayed unposted.
        var takenId = Uint128.InNamespace(IdNamespace.Card, FirstBytes("bulwark-cards|force|P-11"));
        var planted = await _bank.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Card,
            Transfers =
            {
                new Transfer
                {
                    Id = CardsBank.Proto(takenId),
                    DebitAccountId = CardsBank.Proto(CardsBank.FundingAccountId),
                    CreditAccountId = CardsBank.Proto(CardsBank.SettlementAccountId),
                    Amount = 1,
                    Currency = "GBP",
                    Code = 4,
                },
            },
        });
        Assert.Equal(TransferStatus.Ok, planted.Results.Single().Status);
        var path = WriteFile("BWS-TEST-11", [Line("P-11", 'N', "555555555555", "", "Bakery", "5462", 0, 450)]);

        var report = await _bank.Clearing.IngestFileAsync(path, CancellationToken.None);

        Assert.Equal(1, report.ForcePosted);
        Assert.Empty(report.Refused);
        Assert.Equal(450, (await _bank.CustomerAccountAsync()).DebitsPosted);
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Ingest_CorrectedPresentmentAfterTheJournalLostTheFirst_RefusedForAnOperatorNotChargedTwice()
    {
        var first = await _bank.Clearing.IngestFileAsync(WriteFile("BWS-TEST-12A", [Line("P-12", 'N', "444444444444", "", "Bakery", "5462", 0, 500)]), CancellationToken.None);
        Assert.Equal(1, first.ForcePosted);
        // The journal forgets it posted P-12 (restored from an older copy, say); the scheme sends a corrected P-12.
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_bank.JournalPath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM presentments WHERE presentment_id = 'P-12'";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        var corrected = await _bank.Clearing.IngestFileAsync(WriteFile("BWS-TEST-12B", [Line("P-12", 'N', "444444444444", "", "Bakery", "5462", 0, 600)]), CancellationToken.None);

        Assert.Equal(0, corrected.ForcePosted);
        Assert.Contains("IdAlreadyUsedWithDifferentBody", Assert.Single(corrected.Refused), StringComparison.Ordinal);
        Assert.Equal(500, (await _bank.CustomerAccountAsync()).DebitsPosted);
        await _bank.AssertMoneyConservedAsync();
    }

    private static UInt128 FirstBytes(string text) =>
        System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public async Task Ingest_UnknownCard_RefusedAndReportedPerLine()
    {
        var line = Line("P-7", 'N', "888888888888", "", "Corner Shop", "5411", 0, 500, pan: CardsBank.LuhnPan("411111111111111"));
        var report = await _bank.Clearing.IngestFileAsync(WriteFile("BWS-TEST-03", [line]), CancellationToken.None);
        var refused = Assert.Single(report.Refused);
        Assert.Contains("line 2", refused, StringComparison.Ordinal);
        Assert.Equal(0, (await _bank.CustomerAccountAsync()).DebitsPosted);
    }

    [Fact]
    public async Task Ingest_TrailerDisagrees_FileRefusedWholeAndNothingPosted()
    {
        var line = Line("P-8", 'N', "777777777777", "", "Corner Shop", "5411", 0, 500);
        var path = WriteFile("BWS-TEST-04", [line], trailerSum: 499);
        var error = await Assert.ThrowsAsync<FormatException>(() => _bank.Clearing.IngestFileAsync(path, CancellationToken.None));
        Assert.Contains("trailer", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, (await _bank.CustomerAccountAsync()).DebitsPosted);
    }

    [Fact]
    public void Read_PresentmentsSumBeyondWhatATrailerCanState_RefusedAtTheLineWhereTheSumPassedIt()
    {
        var big = Line("P-1", 'E', "111111111111", "000001", "Dishoom", "5812", 999_999_999_999, 999_999_999_999);
        var text = "H|BWCLR|1|F|2026-11-22|2026-11-23T02:00:00Z|826\n" + big + "\n" + big.Replace("P|P-1|", "P|P-2|", StringComparison.Ordinal) + "\nT|2|999999999999\n";

        var error = Assert.Throws<FormatException>(() => ClearingFile.Read(new StringReader(text)));

        Assert.StartsWith("line 3: the presentments so far sum to 1999999999998", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ZeroAmount_RefusedNamingLineAndField()
    {
        var text = "H|BWCLR|1|F|2026-11-22|2026-11-23T02:00:00Z|826\n" +
            Line("P-1", 'E', "111111111111", "000001", "Dishoom", "5812", 100, 100).Replace("|100|826|100", "|0|826|100", StringComparison.Ordinal) + "\nT|1|0\n";
        var error = Assert.Throws<FormatException>(() => ClearingFile.Read(new StringReader(text)));
        Assert.StartsWith("line 2: field 15 (amount)", error.Message, StringComparison.Ordinal);
    }

    private string Line(string id, char kind, string rrn, string authCode, string merchant, string mcc, long authorised, long amount, string? pan = null) =>
        string.Join('|', "P", id, kind.ToString(), rrn, authCode, pan ?? _bank.Pan, "2026-11-22T12:31:07Z", mcc, "MERCHANT0000001", "TERM0001",
            merchant, "London", "GBR", authorised.ToString(CultureInfo.InvariantCulture), amount.ToString(CultureInfo.InvariantCulture), "826", amount.ToString(CultureInfo.InvariantCulture));

    private string WriteFile(string fileId, IReadOnlyList<string> lines, long? trailerSum = null)
    {
        var sum = lines.Sum(line => long.Parse(line.Split('|')[14], CultureInfo.InvariantCulture));
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"H|BWCLR|1|{fileId}|2026-11-22|2026-11-23T02:00:00Z|826\n");
        foreach (var line in lines)
        {
            text.Append(line).Append('\n');
        }
        text.Append(CultureInfo.InvariantCulture, $"T|{lines.Count}|{trailerSum ?? sum}\n");
        var path = Path.Combine(_bank.Directory, fileId + ".txt");
        File.WriteAllText(path, text.ToString());
        return path;
    }
}
