using System.Globalization;
using Bulwark.Support.Protos;
using Bulwark.Support.Storage;

namespace Bulwark.Support.Validation;

/// <summary>The chat's request fields: INVALID_ARGUMENT naming the field, or the value to store.</summary>
internal static class ChatFields
{
    /// <summary>
    /// The text as given, trimmed of surrounding white space: line breaks and tabs are part of what
    /// a customer writes; other control characters are not, and could hide text from staff.
    /// </summary>
    public static string Text(string value, string field)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0)
        {
            throw SupportErrors.Invalid(field, "is required: the message to send");
        }
        if (trimmed.Length > SupportLimits.ChatTextLengthMax)
        {
            throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be at most {SupportLimits.ChatTextLengthMax} characters, not {trimmed.Length}"));
        }
        if (trimmed.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
        {
            throw SupportErrors.Invalid(field, "must not contain control characters other than line breaks and tabs");
        }
        return trimmed;
    }

    public static string ClientMessageId(string value, string field)
    {
        if (value.Length == 0)
        {
            throw SupportErrors.Invalid(field, "is required: an id the client chose for this message and reuses when it retries");
        }
        if (value.Length > SupportLimits.ChatClientMessageIdLengthMax || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture,
                $"must be 1 to {SupportLimits.ChatClientMessageIdLengthMax} letters, digits, '-' or '_'"));
        }
        return value;
    }

    public static ChatAuthor AuthorKind(ChatAuthorKind value, string field) => value switch
    {
        ChatAuthorKind.Customer => ChatAuthor.Customer,
        ChatAuthorKind.Staff => ChatAuthor.Staff,
        _ => throw SupportErrors.Invalid(field, "must be CHAT_AUTHOR_KIND_CUSTOMER or CHAT_AUTHOR_KIND_STAFF"),
    };

    public static int Limit(int value, string field, int defaultValue, int max) =>
        value is < 0 || value > max
            ? throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be 0 (default {defaultValue}) to {max}, not {value}"))
            : value == 0 ? defaultValue : value;

    public static TimeSpan Wait(int valueMilliseconds, string field) =>
        valueMilliseconds is < 0 or > SupportLimits.ChatWaitMillisecondsMax
            ? throw SupportErrors.Invalid(field, string.Create(CultureInfo.InvariantCulture, $"must be 0 to {SupportLimits.ChatWaitMillisecondsMax}, not {valueMilliseconds}"))
            : TimeSpan.FromMilliseconds(valueMilliseconds);

    /// <summary>The conversation list's cursor: the last conversation's time and customer id.</summary>
    public static ConversationPosition? Cursor(string value, string field)
    {
        if (value.Length == 0)
        {
            return null;
        }
        var parts = value.Split('_');
        if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var time)
            || parts[1].Length != 36 || !Guid.TryParseExact(parts[1], "D", out var customer))
        {
            throw SupportErrors.Invalid(field, "must be the next_cursor of a previous page");
        }
        return new ConversationPosition(time, customer.ToString("D"));
    }

    public static string CursorOf(ConversationPosition position) =>
        string.Create(CultureInfo.InvariantCulture, $"{position.LastMessageAtUnixMs}_{position.CustomerId}");
}
