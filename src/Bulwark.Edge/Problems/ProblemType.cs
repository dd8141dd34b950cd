namespace Bulwark.Edge.Problems;

/// <summary>
/// One kind of error the app API answers with: its RFC 7807 <c>type</c> (a path on the edge that
/// describes it), its fixed title and its HTTP status. The full list is in docs/guides/app-api.md.
/// </summary>
internal sealed record ProblemType(string Slug, string Title, int Status, string Description)
{
    public const string PathPrefix = "/problems/";

    public string Type => PathPrefix + Slug;

    public static readonly ProblemType Validation = new("validation", "One or more fields are invalid.", 400,
        "A field of the request is missing, malformed or out of range. The errors object names each bad field.");

    public static readonly ProblemType MalformedJson = new("malformed-json", "The request body is not valid JSON.", 400,
        "The body could not be parsed as one JSON object.");

    public static readonly ProblemType IdempotencyKey = new("idempotency-key", "The Idempotency-Key header is missing or invalid.", 400,
        "Requests that move money need an Idempotency-Key header of 32 hexadecimal digits, chosen by the client and reused on retries.");

    public static readonly ProblemType Unauthenticated = new("unauthenticated", "Authentication required.", 401,
        "The request has no bearer token, or the token is invalid or expired. Log in again.");

    public static readonly ProblemType InvalidCredentials = new("invalid-credentials", "Email or password is incorrect.", 401,
        "The email and password do not match a customer who can log in.");

    /// <summary>Not answered by the app API: another customer's resource answers <see cref="NotFound"/>, exactly like a missing one.</summary>
    public static readonly ProblemType Forbidden = new("forbidden", "You do not have access to this resource.", 403,
        "Not used by the app API: another customer's resource answers 404 not-found, like one that does not exist.");

    /// <summary>The staff edge only: the request came from outside the networks staff requests may come from.</summary>
    public static readonly ProblemType SourceNotAllowed = new("source-not-allowed", "Requests from this network are not allowed here.", 403,
        "The staff edge answers only requests from the bank's allowed networks (read from configuration). The refusal is logged; ask operations if you should be allowed.");

    /// <summary>The staff edge only: maker-checker — whoever proposed a money movement does not decide it.</summary>
    public static readonly ProblemType OwnApproval = new("own-approval", "You cannot decide your own proposal.", 403,
        "A goodwill credit or refund needs a second staff member: another operations member must approve or refuse what you proposed.");

    public static readonly ProblemType NotFound = new("not-found", "Not found.", 404,
        "There is no such resource.");

    public static readonly ProblemType Conflict = new("conflict", "The request conflicts with the current state.", 409,
        "Something with the same identity already exists, or a concurrent change won. Reload and try again.");

    public static readonly ProblemType PayloadTooLarge = new("payload-too-large", "The request body is too large.", 413,
        "Request bodies are limited in size.");

    public static readonly ProblemType UnsupportedMediaType = new("unsupported-media-type", "The request body must be JSON.", 415,
        "Send request bodies as application/json.");

    public static readonly ProblemType InsufficientFunds = new("insufficient-funds", "Insufficient funds.", 422,
        "The account (or pot) does not hold enough money for this.");

    public static readonly ProblemType CurrencyMismatch = new("currency-mismatch", "The currency does not match the account.", 422,
        "The amount's currency differs from the currency of the account or pot it is for.");

    public static readonly ProblemType RuleViolated = new("rule-violated", "The request breaks a business rule.", 422,
        "The request is well-formed but cannot be carried out, for example because a card is frozen. The detail says which rule.");

    public static readonly ProblemType TooManyRequests = new("too-many-requests", "Too many attempts.", 429,
        "Too many failed attempts (logins from this address or for this account, or payments to accounts that do not exist). Wait the seconds in the Retry-After header.");

    public static readonly ProblemType Internal = new("internal", "Something went wrong on our side.", 500,
        "An unexpected error. It has been logged; try again later.");

    public static readonly ProblemType NotImplemented = new("not-implemented", "Not implemented.", 501,
        "A service behind the edge does not offer this operation yet.");

    public static readonly ProblemType ServiceUnavailable = new("service-unavailable", "Service unavailable.", 503,
        "A service the request needs is unavailable right now. This is not the same as not found: retry after the Retry-After header.");

    public static readonly ProblemType Overloaded = new("overloaded", "The bank is busy.", 503,
        "The edge, or a service behind it, is at its limit of requests in flight and did not start this request: nothing was done. Wait the seconds in the Retry-After header and retry with the same Idempotency-Key.");

    public static readonly ProblemType GatewayTimeout = new("gateway-timeout", "A service did not answer in time.", 504,
        "A service the request needs did not answer within its deadline. Retrying with the same Idempotency-Key is safe.");

    public static IReadOnlyList<ProblemType> All { get; } =
    [
        Validation, MalformedJson, IdempotencyKey, Unauthenticated, InvalidCredentials, Forbidden, SourceNotAllowed, OwnApproval, NotFound, Conflict,
        PayloadTooLarge, UnsupportedMediaType, InsufficientFunds, CurrencyMismatch, RuleViolated, TooManyRequests, Internal,
        NotImplemented, ServiceUnavailable, Overloaded, GatewayTimeout,
    ];
}
