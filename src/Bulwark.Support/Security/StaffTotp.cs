using System.Globalization;
using OtpNet;

namespace Bulwark.Support.Security;

/// <summary>
/// RFC 6238 time-based one-time passwords through Otp.NET (SHA-1, 6 digits, 30-second steps, the
/// parameters every authenticator app takes), on the injected clock. A code is accepted from the
/// current step or up to <see cref="SupportLimits.TotpDriftStepsMax"/> either side; the caller
/// refuses a step at or before the last one accepted (replay).
/// </summary>
internal sealed class StaffTotp(TimeProvider time, string issuer)
{
    private static readonly VerificationWindow Window = new(previous: SupportLimits.TotpDriftStepsMax, future: SupportLimits.TotpDriftStepsMax);

    /// <summary>A fresh random secret of <see cref="SupportLimits.TotpSecretBytes"/> bytes.</summary>
    public static byte[] NewSecret() => KeyGeneration.GenerateRandomKey(SupportLimits.TotpSecretBytes);

    /// <summary>The step the code belongs to when it is valid now (within the drift window); null otherwise.</summary>
    public long? Verify(byte[] secret, string code)
    {
        var totp = new Totp(secret, step: SupportLimits.TotpStepSeconds, mode: OtpHashMode.Sha1, totpSize: SupportLimits.TotpDigits);
        return totp.VerifyTotp(time.GetUtcNow().UtcDateTime, code, out var step, Window) ? step : null;
    }

    /// <summary>The enrolment an authenticator app takes: the base32 secret and an otpauth:// URI (Google Authenticator's key URI format).</summary>
    public (string SecretBase32, string Uri) Enrolment(byte[] secret, string email)
    {
        var base32 = Base32Encoding.ToString(secret).TrimEnd('=');
        var label = Uri.EscapeDataString(issuer) + ":" + Uri.EscapeDataString(email);
        var uri = string.Create(CultureInfo.InvariantCulture,
            $"otpauth://totp/{label}?secret={base32}&issuer={Uri.EscapeDataString(issuer)}&algorithm=SHA1&digits={SupportLimits.TotpDigits}&period={SupportLimits.TotpStepSeconds}");
        return (base32, uri);
    }
}
