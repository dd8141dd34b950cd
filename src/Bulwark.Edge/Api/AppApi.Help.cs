using Bulwark.Edge.Services;
using Bulwark.Support.Protos;
using Microsoft.AspNetCore.Http;

namespace Bulwark.Edge.Api;

/// <summary>
/// The Help screen's conversation with the bank (the support service's chat, docs/concepts/chat.md):
/// the signed-in customer reads and writes their own conversation only — the customer id comes from
/// the token, never from the request. Reading is a long-poll, so new messages reach the app without
/// reloading.
/// </summary>
internal sealed partial class AppApi
{
    public const string HelpMessagesPath = "/help/messages";

    /// <summary>
    /// A help read that may wait (the concurrency limit counts these apart: they wait, they do not
    /// work). Matched as routing matches (any case, a trailing slash): a spelling routing takes but
    /// this did not would put long waits among the payments' places.
    /// </summary>
    public static bool IsHelpWait(HttpRequest request) =>
        HttpMethods.IsGet(request.Method)
        && (request.Path.Value ?? "").TrimEnd('/').Equals(AppApiEndpoints.Prefix + HelpMessagesPath, StringComparison.OrdinalIgnoreCase)
        && request.Query["wait"].ToString() is { Length: > 0 } wait && wait != "0";

    public async Task<IResult> HelpMessagesAsync(HttpContext http)
    {
        var (after, wait) = ChatText.ReadPollQuery(http.Request.Query);
        var customerId = await CustomerIdAsync(http);
        var reply = await caller.WaitingFor(wait).CallAsync(ServiceCaller.Support, options => chat.ListMessagesAsync(new ListMessagesRequest
        {
            CustomerId = customerId,
            AfterSequence = after,
            WaitMs = (int)wait.TotalMilliseconds,
        }, options), http.RequestAborted);
        return TypedResults.Json(new HelpMessagesResponse([.. reply.Messages.Select(ToHelpDto)], reply.NextAfterSequence, reply.More),
            EdgeJsonContext.Default.HelpMessagesResponse);
    }

    /// <summary>Sends a message; the Idempotency-Key is the message's client id, so a retry never posts it twice.</summary>
    public async Task<IResult> PostHelpMessageAsync(HttpContext http)
    {
        var idempotencyKey = IdempotencyKey.Read(http.Request);
        using var body = await JsonBody.ReadObjectAsync(http.Request, http.RequestAborted);
        var text = ChatText.Read(body.RootElement, "text");
        var customerId = await CustomerIdAsync(http);
        var reply = await caller.CallAsync(ServiceCaller.Support, options => chat.PostMessageAsync(new PostMessageRequest
        {
            CustomerId = customerId,
            AuthorKind = ChatAuthorKind.Customer,
            AuthorId = customerId,
            Text = text,
            ClientMessageId = idempotencyKey,
        }, options), http.RequestAborted);
        if (reply.Duplicate)
        {
            http.Response.Headers["Idempotent-Replayed"] = "true";
        }
        return TypedResults.Json(ToHelpDto(reply.Message), EdgeJsonContext.Default.HelpMessageDto);
    }

    private static HelpMessageDto ToHelpDto(ChatMessage message) => message.AuthorKind == ChatAuthorKind.Staff
        // Customers see a member of staff's first name, as on a phone line: the full name and the staff id stay inside the bank.
        ? new(message.Sequence, "staff", message.AuthorName.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "", message.Text,
            DateTimeOffset.FromUnixTimeMilliseconds(message.SentAtUnixMs))
        : new(message.Sequence, "customer", null, message.Text, DateTimeOffset.FromUnixTimeMilliseconds(message.SentAtUnixMs));
}
