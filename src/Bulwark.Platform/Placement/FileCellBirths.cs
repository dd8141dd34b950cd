using System.Text.Json;

namespace Bulwark.Platform.Placement;

/// <summary>
/// Cells' birth records of an embedded bank (<see cref="ICellBirths"/>): one small JSON file beside
/// the placement map (<c>DATA/placement-births.json</c>, <c>{"a":"born","b":"claimed"}</c>),
/// replaced atomically and durably. The one-process bank holds its data directory's lock, so one
/// process writes it. A file that cannot be read is refused loudly rather than read as "no birth":
/// that reading would let a lost store take its cell's partitions empty.
/// </summary>
public sealed class FileCellBirths(string path) : ICellBirths
{
    private readonly Lock _gate = new();

    public string FilePath { get; } = Path.GetFullPath(path);

    /// <summary>The same as <see cref="ClaimAsync"/>, for the bank's start (which reads its options synchronously).</summary>
    public CellBirthClaim Claim(string cell)
    {
        lock (_gate)
        {
            var records = Read();
            if (records.TryGetValue(cell, out var value))
            {
                return CellBirthRecords.Read(value);
            }
            records[cell] = CellBirthRecords.Claimed;
            Write(records);
            return CellBirthClaim.First;
        }
    }

    /// <summary>What the file records for <paramref name="cell"/>, claiming nothing: null when no store of it was claimed.</summary>
    public CellBirthClaim? Recorded(string cell)
    {
        lock (_gate)
        {
            return Read().TryGetValue(cell, out var value) ? CellBirthRecords.Read(value) : null;
        }
    }

    public Task<CellBirthClaim> ClaimAsync(string cell, CancellationToken cancellationToken) => Task.FromResult(Claim(cell));

    public Task ConfirmAsync(string cell, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var records = Read();
            if (records.GetValueOrDefault(cell) != CellBirthRecords.Born)
            {
                records[cell] = CellBirthRecords.Born;
                Write(records);
            }
        }
        return Task.CompletedTask;
    }

    private SortedDictionary<string, string> Read()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(FilePath);
        }
        catch (Exception error) when (error is FileNotFoundException or DirectoryNotFoundException)
        {
            return new SortedDictionary<string, string>(StringComparer.Ordinal);
        }
        try
        {
            var records = JsonSerializer.Deserialize<Dictionary<string, string>>(bytes)
                ?? throw new JsonException("null instead of an object");
            if (records.Keys.FirstOrDefault(cell => !PlacementMap.IsValidCellName(cell)) is { } bad)
            {
                throw new JsonException($"'{bad}' is not a cell name");
            }
            return new SortedDictionary<string, string>(records, StringComparer.Ordinal);
        }
        catch (JsonException error)
        {
            throw new InvalidOperationException(
                $"{FilePath} (which cells' ledger stores were made) cannot be read: {error.Message}. Restore it from a backup; deleting it lets a lost store of the first placement map take its partitions empty.", error);
        }
    }

    private void Write(SortedDictionary<string, string> records) =>
        AtomicFile.Write(FilePath, JsonSerializer.SerializeToUtf8Bytes(records), durable: true);
}
