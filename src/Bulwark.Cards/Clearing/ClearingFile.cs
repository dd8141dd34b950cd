using System.Globalization;

namespace Bulwark.Cards.Clearing;

/// <summary>One presentment line of a BWCLR clearing file (docs/reference/clearing-file.md).</summary>
public sealed record Presentment(
    int Line,
    string PresentmentId,
    char Kind,
    string RetrievalReferenceNumber,
    string AuthorisationCode,
    string PrimaryAccountNumber,
    string Mcc,
    string MerchantId,
    string MerchantName,
    string MerchantCity,
    long AuthorisedAmount,
    long Amount)
{
    /// <summary>The PAN is never printed whole.</summary>
    public override string ToString() =>
        $"presentment {PresentmentId} line {Line} RRN {RetrievalReferenceNumber} card ...{PrimaryAccountNumber[^4..]} amount {Amount}";
}

/// <summary>A parsed clearing file: header values and its presentments, trailer checked.</summary>
public sealed record ClearingFile(string FileId, string BusinessDay, IReadOnlyList<Presentment> Presentments)
{
    private const int LineCharactersMax = 1_024;
    private const int PresentmentsMax = 10_000_000;
    private const long AmountMax = 999_999_999_999;

    /// <summary>Reads a whole file; a file that is cut, altered or malformed is refused whole.</summary>
    /// <exception cref="FormatException">Names the line and the field.</exception>
    public static ClearingFile Read(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var header = ReadLine(reader, 1) ?? throw Error(1, "the file is empty: no header");
        var headerFields = Split(header, 1, 7, 'H');
        if (headerFields[1] != "BWCLR" || headerFields[2] != "1")
        {
            throw Error(1, $"format '{headerFields[1]}' version '{headerFields[2]}' is not BWCLR version 1");
        }
        if (headerFields[6] != "826")
        {
            throw Error(1, $"field 7 (settlement currency): '{headerFields[6]}' is not 826");
        }
        var presentments = new List<Presentment>();
        long sum = 0;
        for (var number = 2; ; number++)
        {
            var line = ReadLine(reader, number) ?? throw Error(number, "the file ends without a trailer: it was cut");
            if (line.StartsWith("T|", StringComparison.Ordinal))
            {
                var trailer = Split(line, number, 3, 'T');
                if (Amount(trailer[1], number, 2, "count") != presentments.Count || Amount(trailer[2], number, 3, "sum") != sum)
                {
                    throw Error(number, $"trailer says {trailer[1]} presentments summing to {trailer[2]}, the file holds {presentments.Count} summing to {sum}");
                }
                if (reader.ReadLine() is not null)
                {
                    throw Error(number + 1, "lines after the trailer");
                }
                return new ClearingFile(headerFields[3], headerFields[4], presentments);
            }
            if (presentments.Count == PresentmentsMax)
            {
                throw Error(number, $"more than {PresentmentsMax} presentments");
            }
            var presentment = ParsePresentment(line, number);
            // Checked, and never past what a trailer can state: 10 million presentments of up to
            // 12 digits each could otherwise wrap the sum (issue 11), and a file whose sum no trailer
            // can match is refused at the line where that became certain.
            sum = checked(sum + presentment.Amount);
            if (sum > AmountMax)
            {
                throw Error(number, $"the presentments so far sum to {sum}, more than a trailer can state ({AmountMax})");
            }
            presentments.Add(presentment);
        }
    }

    public static ClearingFile ReadFile(string path)
    {
        using var reader = new StreamReader(path);
        return Read(reader);
    }

    private static Presentment ParsePresentment(string line, int number)
    {
        var fields = Split(line, number, 17, 'P');
        if (fields[1].Length == 0)
        {
            throw Error(number, "field 2 (presentment id): empty");
        }
        if (fields[2] is not ("E" or "T" or "C" or "N"))
        {
            throw Error(number, $"field 3 (kind): '{fields[2]}' is not E, T, C or N");
        }
        if (fields[3].Length != 12)
        {
            throw Error(number, $"field 4 (RRN): '{fields[3]}' is not 12 characters");
        }
        if (fields[5].Length is < 12 or > 19 || !fields[5].All(char.IsAsciiDigit))
        {
            throw Error(number, "field 6 (PAN): not 12-19 digits");
        }
        var amount = Amount(fields[14], number, 15, "amount");
        if (amount == 0)
        {
            throw Error(number, $"field 15 (amount): '{fields[14]}' is not a positive amount in minor units (at most 12 digits)");
        }
        return new Presentment(number, fields[1], fields[2][0], fields[3], fields[4], fields[5], fields[7], fields[8],
            fields[10], fields[11], Amount(fields[13], number, 14, "authorised amount"), amount);
    }

    private static string? ReadLine(TextReader reader, int number)
    {
        var line = reader.ReadLine();
        if (line is not null && line.Length > LineCharactersMax)
        {
            throw Error(number, $"longer than {LineCharactersMax} characters");
        }
        return line;
    }

    private static string[] Split(string line, int number, int count, char type)
    {
        var fields = line.Split('|');
        if (fields[0] != type.ToString())
        {
            throw Error(number, $"record type '{fields[0]}' where '{type}' was expected");
        }
        if (fields.Length != count)
        {
            throw Error(number, $"{fields.Length} fields, a '{type}' record has {count}");
        }
        return fields;
    }

    private static long Amount(string text, int number, int field, string name)
    {
        if (text.Length is 0 or > 12 || !text.All(char.IsAsciiDigit))
        {
            throw Error(number, $"field {field} ({name}): '{text}' is not a positive amount in minor units (at most 12 digits)");
        }
        var value = long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        return value <= AmountMax ? value : throw Error(number, $"field {field} ({name}): too large");
    }

    private static FormatException Error(int line, string reason) => new($"line {line}: {reason}");
}
