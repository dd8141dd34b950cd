using Bulwark.CardNetwork.Clearing;
using Bulwark.CardNetwork.Traffic;
using Bulwark.Iso8583;
using static Bulwark.CardNetwork.Tests.TestSupport;

namespace Bulwark.CardNetwork.Tests.Clearing;

public sealed class ClearingFileTests
{
    private static readonly DateOnly Day = new(2026, 11, 22);

    [Fact]
    public async Task Simulator_ClearingFile_ParsesBackWithDifferencesUnmatchedAndDuplicates()
    {
        await using var issuer = new FakeIssuer();
        var options = SimulatorOptions(issuer) with { RatePerSecond = 1_000, MerchantCount = 40 };
        var simulator = new SchemeSimulator(options);
        await simulator.RunAsync();
        var approvals = simulator.Approvals.ToDictionary(a => a.RetrievalReferenceNumber);
        var directory = Directory.CreateTempSubdirectory("bulwark-clearing-");
        try
        {
            // One file per UTC day: a run across midnight makes two.
            var files = simulator.CreateClearingFiles(new ClearingOptions { TipShare = 1, NoAuthorizationShare = 0.02, DuplicateShare = 0.02 });
            var presentments = new List<Presentment>();
            foreach (var file in files)
            {
                var read = ClearingFileFormat.ReadFile(ClearingFileFormat.WriteToDirectory(file, directory.FullName));
                Assert.Equal(file.FileId, read.FileId);
                Assert.Equal(file.BusinessDay, read.BusinessDay);
                Assert.Equal(file.Presentments, read.Presentments);
                presentments.AddRange(read.Presentments);
            }

            var unique = presentments.DistinctBy(p => p.PresentmentId).ToList();
            var unauthorized = unique.Count(p => p.Kind == PresentmentKind.NoAuthorization);
            Assert.InRange(unauthorized, Math.Round(approvals.Count * 0.02), Math.Round(approvals.Count * 0.02) + files.Count);
            Assert.InRange(presentments.Count - unique.Count, Math.Round(unique.Count * 0.02) - files.Count, Math.Round(unique.Count * 0.02) + files.Count);
            Assert.Equal(500, approvals.Count);
            Assert.Equal(approvals.Count, unique.Count(p => p.Kind != PresentmentKind.NoAuthorization));
            foreach (var presentment in unique)
            {
                if (presentment.Kind == PresentmentKind.NoAuthorization)
                {
                    Assert.DoesNotContain(presentment.RetrievalReferenceNumber, approvals.Keys);
                    Assert.Equal(0, presentment.AuthorizedAmountMinor);
                    Assert.Contains(options.Cards, card => card.PrimaryAccountNumber == presentment.PrimaryAccountNumber);
                    continue;
                }

                var approval = approvals[presentment.RetrievalReferenceNumber];
                Assert.Equal(approval.AmountMinor, presentment.AuthorizedAmountMinor);
                Assert.Equal(approval.AuthorizationCode, presentment.AuthorizationCode);
                Assert.Equal(approval.Card.PrimaryAccountNumber, presentment.PrimaryAccountNumber);
                switch (presentment.Kind)
                {
                    case PresentmentKind.Exact:
                        Assert.Equal(approval.AmountMinor, presentment.AmountMinor);
                        Assert.False(approval.Merchant.Tips);
                        break;
                    case PresentmentKind.Tip:
                        Assert.True(approval.Merchant.Tips);
                        Assert.InRange(presentment.AmountMinor, approval.AmountMinor + 1, (approval.AmountMinor * 1.2) + 1);
                        break;
                    case PresentmentKind.CurrencyConversion:
                        Assert.NotEqual("826", presentment.SourceCurrency);
                        Assert.InRange(presentment.AmountMinor, (approval.AmountMinor * 0.97) - 1, (approval.AmountMinor * 1.03) + 1);
                        break;
                    default:
                        Assert.Fail($"unexpected kind {presentment.Kind}");
                        break;
                }
            }

            Assert.Contains(unique, p => p.Kind == PresentmentKind.Tip);
            Assert.Contains(unique, p => p.Kind == PresentmentKind.CurrencyConversion);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Simulator_ClearingDirectory_WritesAtEndAndNeverPresentsTwice()
    {
        await using var issuer = new FakeIssuer();
        var directory = Directory.CreateTempSubdirectory("bulwark-clearing-");
        try
        {
            var simulator = new SchemeSimulator(SimulatorOptions(issuer) with { ClearingDirectory = directory.FullName });
            var result = await simulator.RunAsync();

            var files = Directory.GetFiles(directory.FullName, "clearing-*.txt");
            Assert.NotEmpty(files);
            var presented = files.Select(ClearingFileFormat.ReadFile).SelectMany(f => f.Presentments).Where(p => p.Kind != PresentmentKind.NoAuthorization).Select(p => p.RetrievalReferenceNumber).Distinct().Count();
            Assert.Equal(result.Approved, presented);
            Assert.Empty(simulator.Approvals);
            Assert.Empty(simulator.WriteClearingFiles(directory.FullName));
            Assert.Equal(files.Length, Directory.GetFiles(directory.FullName).Length);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Generate_OnlyThatDaysApprovals_AndSameSeedSameFile()
    {
        var merchants = MerchantPopulation.Create(30, 1);
        var cards = Cards(5);
        var approvals = new[]
        {
            Approval(cards[0], merchants.Merchants[0], "000000000001", new DateTimeOffset(2026, 11, 22, 23, 59, 59, TimeSpan.Zero)),
            Approval(cards[1], merchants.Merchants[1], "000000000002", new DateTimeOffset(2026, 11, 23, 0, 0, 1, TimeSpan.Zero)),
        };
        var created = new DateTimeOffset(2026, 11, 23, 2, 0, 0, TimeSpan.Zero);

        var file = ClearingFileGenerator.Generate(Day, approvals, cards, merchants, createdAt: created);
        var again = ClearingFileGenerator.Generate(Day, approvals, cards, merchants, createdAt: created);

        Assert.Equal(file.Presentments, again.Presentments);
        Assert.Equal("BWS-20261122-01", file.FileId);
        Assert.Equal("clearing-20261122-01.txt", ClearingFileFormat.FileName(file));
        Assert.Single(file.Presentments.DistinctBy(p => p.PresentmentId), p => p.RetrievalReferenceNumber == "000000000001");
        Assert.DoesNotContain(file.Presentments, p => p.RetrievalReferenceNumber == "000000000002");
    }

    [Theory]
    [InlineData("", "empty file")]
    [InlineData("H|BWCLR|1|F|2026-11-22|2026-11-23T02:00:00Z|826\n", "line 2: no trailer")]
    [InlineData("H|BWCLR|2|F|2026-11-22|2026-11-23T02:00:00Z|826\nT|0|0\n", "version '2'")]
    [InlineData("H|BWCLR|1|F|2026-11-22|2026-11-23T02:00:00Z|978\nT|0|0\n", "settlement currency")]
    [InlineData("H|BWCLR|1|F|22/11/2026|2026-11-23T02:00:00Z|826\nT|0|0\n", "business day")]
    [InlineData("H|BWCLR|1|F|2026-11-22|2026-11-23T02:00:00Z|826\nT|1|0\n", "trailer: says 1 presentments")]
    [InlineData("H|BWCLR|1|F|2026-11-22|2026-11-23T02:00:00Z|826\nT|0|0\nP|x\n", "line 3: data after the trailer")]
    [InlineData("H|BWCLR|1|F|2026-11-22|2026-11-23T02:00:00Z|826\nX|1\nT|0|0\n", "line 2: record type 'X'")]
    [InlineData("H|BWCLR|1|F|2026-11-22|2026-11-23T02:00:00Z|826\nP|1|E|000000000001\nT|0|0\n", "line 2: a presentment has 17 fields")]
    public void Read_BadFile_RejectedNamingTheLine(string text, string expected)
    {
        var error = Assert.Throws<ClearingFileFormatException>(() => ClearingFileFormat.Read(new StringReader(text)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(3, "X", "field 3 (kind)")]
    [InlineData(4, "12345", "field 4 (RRN)")]
    [InlineData(6, "41111111111111x1", "field 6 (PAN)")]
    [InlineData(7, "2026-11-22 10:00:00", "field 7 (transaction time)")]
    [InlineData(8, "541", "field 8 (MCC)")]
    [InlineData(11, "", "field 11 (merchant name)")]
    [InlineData(14, "0", "field 14 (authorised amount): 0 exactly when")]
    [InlineData(15, "0", "field 15 (amount)")]
    [InlineData(15, "-5", "field 15 (amount)")]
    [InlineData(15, "1234567890123", "field 15 (amount)")]
    [InlineData(16, "GBP", "field 16 (source currency)")]
    public void Read_BadPresentmentField_RejectedNamingTheField(int field, string value, string expected)
    {
        var fields = "P|F-1|E|000000000001|A12345|4111111111111111|2026-11-22T10:00:00Z|5411|BWM000000000001|T0000001|Tesco Express|Leeds|GBR|1250|1250|826|1250".Split('|');
        fields[field - 1] = value;
        var amount = field == 15 && long.TryParse(value, out var parsed) ? parsed : 1250;
        var text = $"H|BWCLR|1|F|2026-11-22|2026-11-23T02:00:00Z|826\n{string.Join('|', fields)}\nT|1|{amount}\n";

        var error = Assert.Throws<ClearingFileFormatException>(() => ClearingFileFormat.Read(new StringReader(text)));

        Assert.Equal(2, error.Line);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_LineTooLong_Rejected()
    {
        var text = "H|BWCLR|1|F|2026-11-22|2026-11-23T02:00:00Z|826\n" + new string('P', 2_000) + "\nT|0|0\n";

        var error = Assert.Throws<ClearingFileFormatException>(() => ClearingFileFormat.Read(new StringReader(text)));

        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Write_SeparatorInText_Rejected()
    {
        var merchants = MerchantPopulation.Create(1, 1);
        var merchant = merchants.Merchants[0] with { Name = "Bad|Name" };
        var file = ClearingFileGenerator.Generate(Day, [Approval(Cards(1)[0], merchant, "000000000001", new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero))], Cards(1), merchants, new ClearingOptions { NoAuthorizationShare = 0, DuplicateShare = 0 });

        Assert.Throws<ArgumentException>(() => ClearingFileFormat.Write(file, new StringWriter()));
    }

    [Fact]
    public void Write_AmountsSumBeyondLong_OverflowInsteadOfAWrappedTrailer()
    {
        var merchants = MerchantPopulation.Create(1, 1);
        var file = ClearingFileGenerator.Generate(Day, [Approval(Cards(1)[0], merchants.Merchants[0], "000000000001", new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero))], Cards(1), merchants, new ClearingOptions { NoAuthorizationShare = 0, DuplicateShare = 0 });
        var huge = file.Presentments[0] with { AmountMinor = long.MaxValue };
        file = file with { Presentments = [huge, huge with { PresentmentId = huge.PresentmentId + "-2" }] };

        Assert.Throws<OverflowException>(() => ClearingFileFormat.Write(file, new StringWriter()));
    }

    private static AuthorizationRecord Approval(SchemeCard card, SchemeMerchant merchant, string rrn, DateTimeOffset at) =>
        new(rrn, 1, card, merchant, 1_250, "A12345", PosEntryModes.Contactless, at, StandIn: false);

    [Fact]
    public void KindCodes_AreDistinct()
    {
        Assert.Equal(Enum.GetValues<PresentmentKind>().Length, Enum.GetValues<PresentmentKind>().Select(ClearingFileFormat.KindCode).Distinct().Count());
        Assert.Equal("826", SchemeMessages.PoundSterling);
        Assert.Equal(Iso8583Fields.PosEntryMode, PosEntryModes.FieldNumber);
    }
}
