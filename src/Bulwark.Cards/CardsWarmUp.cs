using Bulwark.Cards.Authorisation;

namespace Bulwark.Cards;

/// <summary>
/// Warms the card processor's hold path before card traffic starts (<c>bulwark run</c> calls it
/// with its other warm-up): rounds of concurrent card lookups, balance reads and holds the ledger
/// refuses without writing (<see cref="CardProcessor.WarmUpAsync"/>). Moves no money.
/// </summary>
public sealed class CardsWarmUp
{
    /// <summary>Hold-path trips in all: three rounds of <see cref="ConcurrencyMax"/>, as the workload's own warm-up.</summary>
    public const int CallsDefault = 96;

    /// <summary>Trips at once: enough to open the connections and grow the thread pool a burst of authorisations needs.</summary>
    public const int ConcurrencyMax = 32;

    private readonly CardProcessor _processor;

    internal CardsWarmUp(CardProcessor processor) => _processor = processor;

    /// <summary>Returns how many trips reached the ledger and were refused there, as intended.</summary>
    public Task<int> WarmUpAsync(CancellationToken cancellationToken) =>
        _processor.WarmUpAsync(CallsDefault, ConcurrencyMax, cancellationToken);
}
