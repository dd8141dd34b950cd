using System.Globalization;

namespace Bulwark.CardNetwork.Traffic;

/// <summary>
/// Retrieval reference numbers (field 37): twelve digits, unique per simulator run and, in
/// practice, across runs: the sequence starts at ten times the Unix time in milliseconds (modulo
/// 10^12, a cycle of about three years), so a run that sends fewer than 10,000 authorisations a
/// second on average never reaches the numbers of a run started after it.
/// </summary>
public sealed class RetrievalReferenceNumbers
{
    private const long Modulus = 1_000_000_000_000;
    private long _next;

    /// <summary>Starts the sequence from <paramref name="start"/>, or from the clock when null.</summary>
    public RetrievalReferenceNumbers(long? start = null, TimeProvider? timeProvider = null)
    {
        _next = (start ?? ((timeProvider ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds() * 10)) % Modulus;
    }

    /// <summary>The next RRN.</summary>
    public string Next()
    {
        var value = (Interlocked.Increment(ref _next) - 1) % Modulus;
        return value.ToString("D12", CultureInfo.InvariantCulture);
    }
}
