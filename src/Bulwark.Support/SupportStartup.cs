using Bulwark.Support.Security;
using Bulwark.Support.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Support;

/// <summary>
/// Opens the store (applying migrations) and loads the TOTP key file when the host starts, so that
/// a broken database or key file stops the process before it registers. Then reads every staff
/// member's TOTP secret once: one under an older key id is re-encrypted under the newest (finishing
/// a key rotation, so the old key can leave the file); one that does not decrypt (its key is not in
/// the file, or the file was replaced) is reported loudly. The service starts all the same: those
/// staff cannot log in (fail closed) until the key is restored or an admin resets their second
/// factor, which needs no old secret — so a lost key file never locks the directory itself.
/// </summary>
internal sealed partial class SupportStartup(IServiceProvider services, ILogger<SupportStartup> logger) : IHostedService
{
    /// <summary>Staff read per store round trip.</summary>
    private const int PageStaff = 500;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var store = services.GetRequiredService<ISupportStore>();
        var keys = services.GetRequiredService<TotpKeyRing>();
        if (keys.Created)
        {
            LogKeyCreated(keys.Path);
        }
        var (rotated, unreadable) = (0, 0);
        string? after = null;
        while (true)
        {
            var page = await store.ListStaffAsync(after, PageStaff, cancellationToken);
            foreach (var staff in page)
            {
                if (!TryDecrypt(keys, staff, out var secret))
                {
                    unreadable++;
                    LogUnreadable(staff.StaffId, staff.Totp.KeyId, keys.Path);
                }
                else if (staff.Totp.KeyId != keys.CurrentKeyId
                    && await store.ReplaceTotpSecretAsync(staff.StaffId, staff.Totp, keys.Encrypt(staff.StaffId, secret), cancellationToken))
                {
                    rotated++;
                }
            }
            if (page.Count < PageStaff)
            {
                break;
            }
            after = page[^1].StaffId;
        }
        if (rotated > 0)
        {
            LogRotated(rotated, keys.CurrentKeyId);
        }
        if (unreadable > 0)
        {
            LogUnreadableTotal(unreadable, keys.Path);
        }
    }

    private static bool TryDecrypt(TotpKeyRing keys, StaffRecord staff, out byte[] secret)
    {
        try
        {
            secret = keys.Decrypt(staff.StaffId, staff.Totp);
            return true;
        }
        catch (Exception error) when (error is InvalidOperationException or System.Security.Cryptography.CryptographicException)
        {
            secret = [];
            return false;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Created a new TOTP key file at {Path}: back it up (bulwark backup keys); staff cannot log in without it")]
    private partial void LogKeyCreated(string path);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Information, Message = "Re-encrypted {Count} staff TOTP secrets under key id {KeyId}; older keys may now leave the key file")]
    private partial void LogRotated(int count, int keyId);

    [LoggerMessage(EventId = 5203, Level = LogLevel.Error, Message = "Staff member {StaffId}'s TOTP secret (key id {KeyId}) does not decrypt with the keys in {Path}: they cannot log in")]
    private partial void LogUnreadable(string staffId, int keyId, string path);

    [LoggerMessage(EventId = 5204, Level = LogLevel.Critical, Message = "{Count} staff TOTP secrets do not decrypt with the keys in {Path}: restore the key file from its backup, or reset their second factor (docs/runbooks/staff.md)")]
    private partial void LogUnreadableTotal(int count, string path);
}
