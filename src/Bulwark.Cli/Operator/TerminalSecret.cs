namespace Bulwark.Cli.Operator;

/// <summary>A secret typed at a terminal: a prompt on standard error, the keys read without echo.</summary>
internal static class TerminalSecret
{
    /// <summary>Writes <paramref name="prompt"/> to <paramref name="error"/> and reads a line without showing it (backspace edits).</summary>
    public static async Task<string> ReadAsync(TextWriter error, string prompt)
    {
        ArgumentNullException.ThrowIfNull(error);
        await error.WriteAsync(prompt);
        var typed = new System.Text.StringBuilder();
        for (var key = Console.ReadKey(intercept: true); key.Key != ConsoleKey.Enter; key = Console.ReadKey(intercept: true))
        {
            if (key.Key == ConsoleKey.Backspace && typed.Length > 0)
            {
                typed.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                typed.Append(key.KeyChar);
            }
        }
        await error.WriteLineAsync();
        return typed.ToString();
    }
}
