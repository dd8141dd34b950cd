using Bulwark.CardNetwork.Traffic;

namespace Bulwark.CardNetwork;

/// <summary>An approved authorisation the scheme saw, the input of the clearing file.</summary>
/// <param name="RetrievalReferenceNumber">Field 37, the transaction's identity across auth, reversal, advice and clearing.</param>
/// <param name="SystemsTraceAuditNumber">Field 11 of the 0100.</param>
/// <param name="Card">The card.</param>
/// <param name="Merchant">The card acceptor.</param>
/// <param name="AmountMinor">Authorised amount in pence.</param>
/// <param name="AuthorizationCode">Field 38 (the issuer's, or the scheme's in stand-in).</param>
/// <param name="PosEntryMode">Field 22.</param>
/// <param name="TransmittedAt">Field 7 of the 0100.</param>
/// <param name="StandIn">Whether the scheme approved it in stand-in.</param>
public sealed record AuthorizationRecord(
    string RetrievalReferenceNumber,
    int SystemsTraceAuditNumber,
    SchemeCard Card,
    SchemeMerchant Merchant,
    long AmountMinor,
    string AuthorizationCode,
    string PosEntryMode,
    DateTimeOffset TransmittedAt,
    bool StandIn);
