using System.Security.Cryptography;
using System.Text.Json;
using Bulwark.Support.Protos;
using Grpc.Core;
using StaffDirectoryClient = Bulwark.Support.Protos.StaffDirectory.StaffDirectoryClient;

namespace Bulwark.Cli.Demo;

/// <summary>
/// The one demo staff member of <c>bulwark run</c>, for the customer-operations console: created
/// through the staff directory's contract on first start, with a random password and the TOTP
/// secret the directory makes. Both go to <c>DATA/keys/demo-staff.json</c>, created owner-only (0600),
/// never to the log or the console: the start-up output only says where the file is. Among the keys,
/// so that data backups (which must hold no secret) leave it out.
/// </summary>
internal static class DemoStaff
{
    public const string Email = "staff@bulwark.example";

    public const string Name = "Demo Staff";

    /// <summary>What <c>demo-staff.json</c> holds.</summary>
    internal sealed record Login(string StaffId, string Email, string Password, string TotpSecret, string OtpauthUri);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>
    /// The line <c>bulwark run</c> prints: the demo staff login with its password and TOTP secret
    /// when it is created now (the first start), else where it is kept.
    /// </summary>
    public static async Task<string> EnsureAsync(StaffDirectoryClient staff, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(staff);
        if (File.Exists(path))
        {
            return $"Demo staff (console): {Email}   (password and TOTP secret in {path}, readable by you only)";
        }
        // 18 random bytes: 24 characters of base64url, well above the staff minimum of 12.
        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');
        CreateStaffResponse created;
        try
        {
            created = await staff.CreateStaffAsync(new CreateStaffRequest
            {
                Email = Email,
                Name = Name,
                Roles = { StaffRole.Support, StaffRole.Operations, StaffRole.Admin },
                Password = password,
                Reason = "demo staff member of bulwark run",
            }, cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.AlreadyExists)
        {
            return $"Demo staff (console): {Email} exists but {path} is gone; give it a new second factor with: bulwark staff reset-totp ID --reason \"lost the demo login\"";
        }
        Bulwark.Platform.Security.PrivateFiles.CreateDirectory(Path.GetDirectoryName(path)!);
        var login = new Login(created.Staff.StaffId, Email, password, created.Totp.SecretBase32, created.Totp.OtpauthUri);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        await using (var file = new FileStream(path, options))
        {
            await JsonSerializer.SerializeAsync(file, login, Json, cancellationToken);
        }
        // Shown once, on the start that created them, as the demo customer's login is: this is the demo bank's own
        // member, and a first-time user needs the second factor to open the console at all. Later starts point to the file.
        return $"Demo staff (console): {Email} / {password}   TOTP secret {created.Totp.SecretBase32} (add it to an authenticator app; shown once, kept in {path}, readable by you only)";
    }
}
