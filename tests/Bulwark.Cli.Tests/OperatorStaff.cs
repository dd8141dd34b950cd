using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;

namespace Bulwark.Cli.Tests;

/// <summary>
/// Operator commands act as a staff member and state a reason (the staff edge's operator gateway
/// refuses them otherwise). The process tests run them as the bank's demo staff member
/// (<c>DIR/keys/demo-staff.json</c>, made by <c>bulwark run</c> and <c>bulwark cluster up</c>), logged
/// in through the real <c>bulwark staff login</c> with a TOTP code computed from its secret, once per
/// bank; the session is kept in <c>DIR/keys/test-staff-session.json</c>. A test that passes its own
/// <c>BULWARK_STAFF_SESSION</c> (the gateway's own tests) gets exactly what it passes.
/// </summary>
internal static class OperatorStaff
{
    public const string SessionVariable = "BULWARK_STAFF_SESSION";
    public const string ReasonVariable = "BULWARK_REASON";

    private static readonly HashSet<string> Commands = new(["customers", "config", "audit", "cells", "reconcile", "staff"], StringComparer.Ordinal);

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Logins = new(StringComparer.Ordinal);

    /// <summary>The environment to run <paramref name="args"/> in: with the demo staff member's session and a reason when it is an operator command.</summary>
    public static async Task<Dictionary<string, string>?> EnvironmentAsync(Dictionary<string, string>? environment, string[] args)
    {
        if (args.Length == 0 || !Commands.Contains(args[0]) || (args[0] == "staff" && args.Length > 1 && args[1] is "login" or "logout")
            || environment?.ContainsKey(SessionVariable) == true)
        {
            return environment;
        }
        var (flag, directory) = Target(args);
        if (directory is null)
        {
            return environment;
        }
        var session = await SessionAsync(flag!, Path.GetFullPath(directory));
        var result = new Dictionary<string, string>(environment ?? [], StringComparer.Ordinal) { [SessionVariable] = session };
        result.TryAdd(ReasonVariable, "process test: " + string.Join(' ', args.Take(2)));
        return result;
    }

    /// <summary>Logs in as the demo staff member of the bank in <paramref name="directory"/> (once; again when the session is gone or near its end) and answers the session file.</summary>
    public static async Task<string> SessionAsync(string flag, string directory)
    {
        var path = Path.Combine(directory, "keys", "test-staff-session.json");
        var gate = Logins.GetOrAdd(path, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync();
        try
        {
            if (File.Exists(path) && ExpiresAt(path) > DateTimeOffset.UtcNow.AddMinutes(5))
            {
                return path;
            }
            var demoFile = Path.Combine(directory, "keys", "demo-staff.json");
            using var demo = JsonDocument.Parse(await File.ReadAllTextAsync(demoFile));
            var email = demo.RootElement.GetProperty("email").GetString()!;
            var password = demo.RootElement.GetProperty("password").GetString()!;
            var totp = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(demo.RootElement.GetProperty("totpSecret").GetString()!));
            var environment = new Dictionary<string, string> { [SessionVariable] = path };
            (int ExitCode, string Output, string Error) login = default;
            // A code is good once: a second login in the same 30 s step (another test's, on the same bank) waits for the next.
            for (var attempt = 0; attempt < 3; attempt++)
            {
                login = await BulwarkProcess.RunWithInputAsync(environment, BulwarkProcess.Bound, $"{password}\n{totp.ComputeTotp()}\n",
                    ["staff", "login", "--email", email, flag, directory]);
                if (login.ExitCode == 0)
                {
                    return path;
                }
                await Task.Delay(TimeSpan.FromSeconds(totp.RemainingSeconds() + 1));
            }
            throw new InvalidOperationException($"staff login as {email} on {directory} failed: {login.Output}{login.Error}");
        }
        finally
        {
            gate.Release();
        }
    }

    private static DateTimeOffset ExpiresAt(string path)
    {
        try
        {
            using var session = JsonDocument.Parse(File.ReadAllText(path));
            return DateTimeOffset.Parse(session.RootElement.GetProperty("expiresAt").GetString()!, CultureInfo.InvariantCulture);
        }
        catch (Exception error) when (error is IOException or JsonException or KeyNotFoundException or FormatException)
        {
            return DateTimeOffset.MinValue;
        }
    }

    private static (string? Flag, string? Directory) Target(string[] args)
    {
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] is "--data" or "--state")
            {
                return (args[i], args[i + 1]);
            }
        }
        return (null, null);
    }
}
