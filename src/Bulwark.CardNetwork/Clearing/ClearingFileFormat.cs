using System.Globalization;
using System.Text;

namespace Bulwark.CardNetwork.Clearing;

/// <summary>A clearing file that does not follow docs/reference/clearing-file.md; names the line and the field.</summary>
public sealed class ClearingFileFormatException : FormatException
{
    /// <summary>Creates the error for a line (1-based; 0 for the whole file).</summary>
    public ClearingFileFormatException(int line, string reason)
        : base(line > 0 ? $"line {line}: {reason}" : reason)
    {
        Line = line;
        Reason = reason;
    }

    /// <summary>Creates the error without a line.</summary>
    public ClearingFileFormatException()
        : this(0, "invalid clearing file")
    {
    }

    /// <summary>Creates the error without a line.</summary>
    public ClearingFileFormatException(string message)
        : this(0, message)
    {
    }

    /// <summary>Creates the error without a line.</summary>
    public ClearingFileFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = message;
    }

    /// <summary>The 1-based line, 0 for the whole file.</summary>
    public int Line { get; }

    /// <summary>What is wrong.</summary>
    public string Reason { get; } = string.Empty;
}

/// <summary>
/// The presentment file on disk (docs/reference/clearing-file.md): UTF-8 text, one record per
/// line, fields separated by <c>|</c>; a header line, presentment lines, a trailer line with the
/// count and the sum so a cut or padded file is detected.
/// </summary>
public static class ClearingFileFormat
{
    /// <summary>The format's name in the header.</summary>
    public const string FormatName = "BWCLR";

    /// <summary>The version this code writes and reads.</summary>
    public const int Version = 1;

    /// <summary>Fields of a presentment line, the record type included.</summary>
    public const int PresentmentFieldCount = 17;

    /// <summary>Presentments one file may hold.</summary>
    public const int PresentmentsMax = 10_000_000;

    /// <summary>Longest line accepted.</summary>
    public const int LineCharactersMax = 1_024;

    private const char Separator = '|';

    /// <summary>The file name for <paramref name="file"/>: <c>clearing-YYYYMMDD-NN.txt</c> from its id.</summary>
    public static string FileName(ClearingFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return string.Create(CultureInfo.InvariantCulture, $"clearing-{file.FileId["BWS-".Length..]}.txt");
    }

    /// <summary>Writes the file; text fields must not contain <c>|</c> or line breaks.</summary>
    /// <exception cref="ArgumentException">A text field holds a separator or a line break.</exception>
    public static void Write(ClearingFile file, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(string.Create(CultureInfo.InvariantCulture, $"H|{FormatName}|{Version}|{Text(file.FileId)}|{file.BusinessDay:yyyy-MM-dd}|{file.CreatedAt.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}|826\n"));
        long sum = 0;
        foreach (var p in file.Presentments)
        {
            // Checked: a wrapped sum would write a trailer the issuer must refuse (issue 11).
            sum = checked(sum + p.AmountMinor);
            writer.Write(string.Create(CultureInfo.InvariantCulture,
                $"P|{Text(p.PresentmentId)}|{KindCode(p.Kind)}|{Text(p.RetrievalReferenceNumber)}|{Text(p.AuthorizationCode)}|{Text(p.PrimaryAccountNumber)}|{p.TransactionTime.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}|{Text(p.MerchantCategoryCode)}|{Text(p.CardAcceptorId)}|{Text(p.TerminalId)}|{Text(p.MerchantName)}|{Text(p.MerchantCity)}|{Text(p.MerchantCountry)}|{p.AuthorizedAmountMinor}|{p.AmountMinor}|{Text(p.SourceCurrency)}|{p.SourceAmountMinor}\n"));
        }

        writer.Write(string.Create(CultureInfo.InvariantCulture, $"T|{file.Presentments.Count}|{sum}\n"));
    }

    /// <summary>Writes the file to <paramref name="directory"/> (created if needed) under <see cref="FileName"/>, atomically; returns the path.</summary>
    public static string WriteToDirectory(ClearingFile file, string directory)
    {
        ArgumentNullException.ThrowIfNull(file);
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName(file));
        var temporary = path + ".tmp";
        using (var stream = new StreamWriter(temporary, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)))
        {
            Write(file, stream);
        }

        // A reader never sees half a file: it appears whole or not at all.
        File.Move(temporary, path, overwrite: true);
        return path;
    }

    /// <summary>Reads a whole file.</summary>
    /// <exception cref="ClearingFileFormatException">Anything that does not follow the format, naming the line and the field.</exception>
    public static ClearingFile Read(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var header = ReadLine(reader, 1) ?? throw new ClearingFileFormatException(1, "empty file: no header");
        var (fileId, businessDay, createdAt) = ParseHeader(header);
        var presentments = new List<Presentment>();
        long sum = 0;
        for (var line = 2; ; line++)
        {
            var text = ReadLine(reader, line) ?? throw new ClearingFileFormatException(line, "no trailer: the file is cut short");
            if (text.StartsWith("T|", StringComparison.Ordinal))
            {
                CheckTrailer(text, line, presentments.Count, sum);
                if (ReadLine(reader, line + 1) is not null)
                {
                    throw new ClearingFileFormatException(line + 1, "data after the trailer");
                }

                return new ClearingFile(fileId, businessDay, createdAt, presentments);
            }

            if (presentments.Count >= PresentmentsMax)
            {
                throw new ClearingFileFormatException(line, $"more than {PresentmentsMax} presentments");
            }

            var presentment = ParsePresentment(text, line);
            sum = checked(sum + presentment.AmountMinor);
            presentments.Add(presentment);
        }
    }

    /// <summary>Reads a file from disk.</summary>
    /// <exception cref="ClearingFileFormatException">See <see cref="Read(TextReader)"/>.</exception>
    public static ClearingFile ReadFile(string path)
    {
        using var reader = new StreamReader(path, Encoding.UTF8);
        return Read(reader);
    }

    /// <summary>The one-letter code of a kind in the file.</summary>
    public static char KindCode(PresentmentKind kind) => kind switch
    {
        PresentmentKind.Exact => 'E',
        PresentmentKind.Tip => 'T',
        PresentmentKind.CurrencyConversion => 'C',
        PresentmentKind.NoAuthorization => 'N',
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static string? ReadLine(TextReader reader, int line)
    {
        var text = reader.ReadLine();
        if (text is not null && text.Length > LineCharactersMax)
        {
            throw new ClearingFileFormatException(line, $"longer than {LineCharactersMax} characters");
        }

        return text;
    }

    private static (string FileId, DateOnly BusinessDay, DateTimeOffset CreatedAt) ParseHeader(string text)
    {
        var fields = text.Split(Separator);
        if (fields.Length != 7 || fields[0] != "H")
        {
            throw new ClearingFileFormatException(1, $"header: expected 7 fields starting with H, found {fields.Length}");
        }

        if (fields[1] != FormatName || fields[2] != "1")
        {
            throw new ClearingFileFormatException(1, $"header: format '{fields[1]}' version '{fields[2]}' is not {FormatName} version {Version}");
        }

        if (fields[6] != "826")
        {
            throw new ClearingFileFormatException(1, $"header field 7 (settlement currency): '{fields[6]}' is not 826");
        }

        return (Required(fields[3], 1, "header field 4 (file id)"), Day(fields[4], 1, "header field 5 (business day)"), Time(fields[5], 1, "header field 6 (created at)"));
    }

    private static Presentment ParsePresentment(string text, int line)
    {
        var f = text.Split(Separator);
        if (f[0] != "P")
        {
            throw new ClearingFileFormatException(line, $"record type '{f[0]}' is not P or T");
        }

        if (f.Length != PresentmentFieldCount)
        {
            throw new ClearingFileFormatException(line, $"a presentment has {PresentmentFieldCount} fields, this line {f.Length}");
        }

        var kind = f[2] switch
        {
            "E" => PresentmentKind.Exact,
            "T" => PresentmentKind.Tip,
            "C" => PresentmentKind.CurrencyConversion,
            "N" => PresentmentKind.NoAuthorization,
            _ => throw new ClearingFileFormatException(line, $"field 3 (kind): '{f[2]}' is not E, T, C or N"),
        };
        var authorized = Amount(f[13], line, "field 14 (authorised amount)", allowZero: true);
        if ((kind == PresentmentKind.NoAuthorization) != (authorized == 0))
        {
            throw new ClearingFileFormatException(line, "field 14 (authorised amount): 0 exactly when the kind is N");
        }

        return new Presentment(
            Required(f[1], line, "field 2 (presentment id)"),
            kind,
            Digits(f[3], line, "field 4 (RRN)", 12, 12),
            f[4],
            Digits(f[5], line, "field 6 (PAN)", 12, 19),
            Time(f[6], line, "field 7 (transaction time)"),
            Digits(f[7], line, "field 8 (MCC)", 4, 4),
            Required(f[8], line, "field 9 (merchant id)"),
            Required(f[9], line, "field 10 (terminal id)"),
            Required(f[10], line, "field 11 (merchant name)"),
            f[11],
            f[12],
            authorized,
            Amount(f[14], line, "field 15 (amount)", allowZero: false),
            Digits(f[15], line, "field 16 (source currency)", 3, 3),
            Amount(f[16], line, "field 17 (source amount)", allowZero: false));
    }

    private static void CheckTrailer(string text, int line, int count, long sum)
    {
        var fields = text.Split(Separator);
        if (fields.Length != 3
            || !long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var declaredCount)
            || !long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var declaredSum))
        {
            throw new ClearingFileFormatException(line, "trailer: expected T|count|sum");
        }

        if (declaredCount != count || declaredSum != sum)
        {
            throw new ClearingFileFormatException(line, $"trailer: says {declaredCount} presentments summing to {declaredSum}, the file has {count} summing to {sum}");
        }
    }

    private static string Text(string value)
    {
        if (value.AsSpan().IndexOfAny("|\r\n") >= 0)
        {
            throw new ArgumentException($"'{value}' contains a separator or a line break.", nameof(value));
        }

        return value;
    }

    private static string Required(string value, int line, string field) =>
        value.Length > 0 ? value : throw new ClearingFileFormatException(line, $"{field}: empty");

    private static string Digits(string value, int line, string field, int lengthMin, int lengthMax)
    {
        if (value.Length < lengthMin || value.Length > lengthMax || !value.All(char.IsAsciiDigit))
        {
            throw new ClearingFileFormatException(line, $"{field}: '{value}' is not {lengthMin}{(lengthMax != lengthMin ? $"-{lengthMax}" : string.Empty)} digits");
        }

        return value;
    }

    private static long Amount(string value, int line, string field, bool allowZero)
    {
        if (value.Length is 0 or > 12 || !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || (amount == 0 && !allowZero))
        {
            throw new ClearingFileFormatException(line, $"{field}: '{value}' is not a{(allowZero ? string.Empty : " positive")} amount in minor units (at most 12 digits)");
        }

        return amount;
    }

    private static DateOnly Day(string value, int line, string field) =>
        DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? day
            : throw new ClearingFileFormatException(line, $"{field}: '{value}' is not yyyy-MM-dd");

    private static DateTimeOffset Time(string value, int line, string field) =>
        DateTimeOffset.TryParseExact(value, "yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : throw new ClearingFileFormatException(line, $"{field}: '{value}' is not yyyy-MM-ddTHH:mm:ssZ (UTC)");
}
