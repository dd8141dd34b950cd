using Bulwark.Accounts.Protos;
using Google.Protobuf.Reflection;

namespace Bulwark.Accounts.Tests.Grpc;

/// <summary>
/// Issue 11, item 3: a method's idempotency_level is a promise the platform acts on (it retries
/// NO_SIDE_EFFECTS and IDEMPOTENT calls that fail with UNAVAILABLE), so it must say what the
/// method does. Every method is listed: a new one fails here until someone decides its level.
/// </summary>
public sealed class IdempotencyLevelTests
{
    private static readonly Dictionary<string, MethodOptions.Types.IdempotencyLevel> Expected = new(StringComparer.Ordinal)
    {
        // Creates a customer and a ledger account with fresh ids: a second call is a second customer (or ALREADY_EXISTS).
        ["CreateCustomer"] = MethodOptions.Types.IdempotencyLevel.IdempotencyUnknown,
        // Re-hashes an old password hash on success: a write, but the same outcome if repeated.
        ["Authenticate"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        ["GetCustomer"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        ["ListAccounts"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        ["FindAccountByNumber"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        // A fresh pot id (and ledger account) per call.
        ["CreatePot"] = MethodOptions.Types.IdempotencyLevel.IdempotencyUnknown,
        // Idempotent by the customer's key.
        ["MoveMoney"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        ["PayAccount"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        // A second issue of the same PAN is ALREADY_EXISTS, not the first answer.
        ["IssueCard"] = MethodOptions.Types.IdempotencyLevel.IdempotencyUnknown,
        ["ListCards"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        // Sets the flag to the value given.
        ["SetCardFrozen"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        // Sets the block to the value given.
        ["SetAccountBlocked"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        // The staff console's search.
        ["SearchCustomers"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        ["FindCardByPan"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        // Operators' reads (bulwark customers list|show).
        ["ListCustomers"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        ["FindCustomerByEmail"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        // Logout: revoking an id twice is the same as once; the check only reads.
        ["RevokeToken"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        ["IsTokenRevoked"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        // Reconciliation's read of recorded movements.
        ["ListMovements"] = MethodOptions.Types.IdempotencyLevel.NoSideEffects,
        // The coherence checker's synthetic customer: found or made by its key, its password set to the value given.
        ["EnsureSyntheticCustomer"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
        // An approved bank credit: its transfer id is derived from the approval id, so a repeat answers the same transfer.
        ["CreditFromBank"] = MethodOptions.Types.IdempotencyLevel.Idempotent,
    };

    [Fact]
    public void AccountsContract_EveryMethod_DeclaresWhatItDoes()
    {
        var methods = AccountsReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Accounts").Methods;

        Assert.Equal(Expected.Keys.Order(StringComparer.Ordinal), methods.Select(method => method.Name).Order(StringComparer.Ordinal));
        Assert.All(methods, method => Assert.Equal((method.Name, Expected[method.Name]), (method.Name, method.GetOptions()?.IdempotencyLevel ?? MethodOptions.Types.IdempotencyLevel.IdempotencyUnknown)));
    }
}
