namespace Bulwark.Cards.Authorisation;

/// <summary>The feed's spending category for a merchant category code (ISO 18245), coarse on purpose.</summary>
internal static class MerchantCategories
{
    public static string Category(string mcc) => mcc switch
    {
        "5411" or "5412" or "5422" or "5441" or "5451" or "5462" or "5499" => "groceries",
        "5812" or "5813" or "5814" => "eating_out",
        "4111" or "4112" or "4121" or "4131" or "4789" or "5541" or "5542" or "4511" => "transport",
        "7832" or "7922" or "7941" or "7991" or "7996" or "5815" or "5816" => "entertainment",
        "4900" or "4814" or "4899" => "bills",
        _ when mcc.StartsWith('5') => "shopping",
        _ => "general",
    };
}
