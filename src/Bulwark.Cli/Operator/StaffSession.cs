using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bulwark.Cli.Operator;

/// <summary>
/// The operator's staff session, written by <c>bulwark staff login</c> and sent by every operator
/// command (<see cref="OperatorCredentials"/>): the staff token the staff edge issued, when it
/// expires, the staff edge it came from and who it is. One file, readable and writable by its owner
/// only (0600): <c>$BULWARK_STAFF_SESSION</c>, else <c>~/.config/bulwark/staff-session.json</c>.
/// The token is a bearer credential for up to the staff edge's token lifetime (12 h at most).
/// </summary>
internal sealed record StaffSession(string Token, DateTimeOffset ExpiresAt, string StaffEdge, string StaffId, string Email, IReadOnlyList<string> Roles)
{
    public const string PathVariable = "BULWARK_STAFF_SESSION";

    /// <summary>Where the session lives: <c>$BULWARK_STAFF_SESSION</c>, else the user's configuration directory.</summary>
    public static string FilePath()
    {
        var configured = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured);
        }
        var config = Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(config))
        {
            throw new OperatorException($"no configuration directory for the staff session (HOME is not set); set {PathVariable} to a file path.");
        }
        return Path.Combine(config, "bulwark", "staff-session.json");
    }

    /// <summary>The saved session, or null when there is none; <see cref="OperatorException"/> when the file is unreadable.</summary>
    public static StaffSession? Load()
    {
        var path = FilePath();
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), StaffSessionJsonContext.Default.StaffSession)
                ?? throw new OperatorException($"{path} is empty; log in again with: bulwark staff login --email EMAIL");
        }
        catch (Exception error) when (error is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new OperatorException($"cannot read the staff session {path}: {error.Message}; log in again with: bulwark staff login --email EMAIL");
        }
    }

    /// <summary>Writes the session owner-only (a temporary file created 0600, then renamed over the old one).</summary>
    public void Save()
    {
        var path = FilePath();
        var directory = Path.GetDirectoryName(path)!;
        Bulwark.Platform.Security.PrivateFiles.CreateDirectory(directory);
        var temporary = path + $".{Environment.ProcessId}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var file = new FileStream(temporary, options))
        {
            JsonSerializer.Serialize(file, this, StaffSessionJsonContext.Default.StaffSession);
        }
        if (!OperatingSystem.IsWindows())
        {
            // A file that existed before (mode not applied on open) is made owner-only too.
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Removes the session; false when there was none.</summary>
    public static bool Delete()
    {
        var path = FilePath();
        if (!File.Exists(path))
        {
            return false;
        }
        File.Delete(path);
        return true;
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(StaffSession))]
internal sealed partial class StaffSessionJsonContext : JsonSerializerContext;
