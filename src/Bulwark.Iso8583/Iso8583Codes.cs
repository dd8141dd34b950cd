namespace Bulwark.Iso8583;

/// <summary>Field 39 response codes Bulwark sends and understands (ISO 8583:1987 values).</summary>
public static class Iso8583ResponseCodes
{
    /// <summary>00: approved.</summary>
    public const string Approved = "00";
    /// <summary>05: do not honour.</summary>
    public const string DoNotHonour = "05";
    /// <summary>12: invalid transaction.</summary>
    public const string InvalidTransaction = "12";
    /// <summary>13: invalid amount.</summary>
    public const string InvalidAmount = "13";
    /// <summary>14: invalid card number (no such card).</summary>
    public const string InvalidCardNumber = "14";
    /// <summary>30: format error.</summary>
    public const string FormatError = "30";
    /// <summary>51: insufficient funds.</summary>
    public const string InsufficientFunds = "51";
    /// <summary>54: expired card.</summary>
    public const string ExpiredCard = "54";
    /// <summary>57: transaction not permitted to cardholder (e.g. a frozen card).</summary>
    public const string TransactionNotPermittedToCardholder = "57";
    /// <summary>61: exceeds withdrawal amount limit.</summary>
    public const string ExceedsWithdrawalLimit = "61";
    /// <summary>62: restricted card.</summary>
    public const string RestrictedCard = "62";
    /// <summary>91: issuer or switch inoperative.</summary>
    public const string IssuerUnavailable = "91";
    /// <summary>94: duplicate transmission.</summary>
    public const string DuplicateTransmission = "94";
    /// <summary>96: system malfunction.</summary>
    public const string SystemMalfunction = "96";
}

/// <summary>Field 70 network management information codes used on the 0800/0810 link.</summary>
public static class Iso8583NetworkManagementCodes
{
    /// <summary>001: sign-on.</summary>
    public const string SignOn = "001";
    /// <summary>002: sign-off.</summary>
    public const string SignOff = "002";
    /// <summary>301: echo test (keep-alive).</summary>
    public const string EchoTest = "301";
}
