namespace Bulwark.Edge.Throttling;

/// <summary>
/// Limits, per customer, payments answered "no such payee" (see <see cref="EdgeOptions.PayeeMissesPerCustomerMax"/>),
/// so that the payment endpoint cannot be used to find out which account numbers exist. Payments that
/// reach a payee spend nothing. With the budget spent, every payment of the customer answers 429 until
/// it refills: the edge cannot tell a probe from a payment before asking.
/// </summary>
internal sealed class PayeeThrottle(EdgeOptions options, TimeProvider time) : IDisposable
{
    private readonly FailureBudget _misses = new(options.PayeeMissesPerCustomerMax, options.PayeeMissWindow, time);

    public TimeSpan? Exhausted(string customerId) => _misses.Exhausted(customerId);

    public void RecordMiss(string customerId) => _misses.Spend(customerId);

    public void Dispose() => _misses.Dispose();
}
