using System.Globalization;
using System.Text.Json;
using Bulwark.Edge.Problems;

namespace Bulwark.Edge.Api;

/// <summary>
/// The text of a chat message in a JSON body, for the app's Help screen and the staff console: a
/// string of 1 to <see cref="EdgeLimits.HelpTextLengthMax"/> characters after trimming. Unlike the
/// other fields of the API it may hold line breaks and tabs (people write paragraphs); other control
/// characters are refused, as the support service refuses them.
/// </summary>
internal static class ChatText
{
    public static string Read(JsonElement root, string field)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(field, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            throw Invalid(field, $"{field} is required.");
        }
        if (element.ValueKind != JsonValueKind.String)
        {
            throw Invalid(field, $"{field} must be a JSON string.");
        }
        var text = element.GetString()!.Trim();
        if (text.Length == 0)
        {
            throw Invalid(field, $"{field} must not be empty.");
        }
        if (text.Length > EdgeLimits.HelpTextLengthMax)
        {
            throw Invalid(field, string.Create(CultureInfo.InvariantCulture, $"{field} must be at most {EdgeLimits.HelpTextLengthMax} characters long."));
        }
        if (text.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
        {
            throw Invalid(field, $"{field} must not contain control characters other than line breaks and tabs.");
        }
        return text;
    }

    /// <summary>The <c>wait</c> of a long-poll in seconds (0 to <see cref="EdgeLimits.HelpWaitSecondsMax"/>) and the <c>after</c> sequence (0 or more).</summary>
    public static (long After, TimeSpan Wait) ReadPollQuery(Microsoft.AspNetCore.Http.IQueryCollection query)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        long after = 0;
        var afterText = query["after"].ToString();
        if (afterText.Length > 0 && (!long.TryParse(afterText, NumberStyles.None, CultureInfo.InvariantCulture, out after) || after < 0))
        {
            errors["after"] = ["after must be a whole number, 0 or more: the nextAfter of the previous answer."];
        }
        var wait = 0;
        var waitText = query["wait"].ToString();
        if (waitText.Length > 0 && (!int.TryParse(waitText, NumberStyles.None, CultureInfo.InvariantCulture, out wait) || wait > EdgeLimits.HelpWaitSecondsMax))
        {
            errors["wait"] = [string.Create(CultureInfo.InvariantCulture, $"wait must be a whole number of seconds from 0 to {EdgeLimits.HelpWaitSecondsMax}.")];
        }
        if (errors.Count > 0)
        {
            throw new ProblemException(ProblemType.Validation, errors.Values.First()[0], errors);
        }
        return (after, TimeSpan.FromSeconds(wait));
    }

    private static ProblemException Invalid(string field, string message) => ProblemException.Field(ProblemType.Validation, field, message);
}
