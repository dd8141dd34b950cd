using Bulwark.Support.Protos;
using Google.Protobuf;
using Grpc.Core;

namespace Bulwark.Support.Tests.Grpc;

/// <summary>
/// Staff login through the real contract on a fake clock: password plus an RFC 6238 code, ±1 step
/// of drift, no code twice, five failures lock (growing), a lock ends, disabled staff stay out, and
/// an unknown email cannot be told from a wrong password.
/// </summary>
public sealed class AuthenticateStaffTests(SupportHostFixture fixture) : IClassFixture<SupportHostFixture>
{
    private SupportTestHost Host => fixture.Host;

    [Fact]
    public async Task Authenticate_RightPasswordAndCurrentCode_AuthenticatedWithIdNameAndRoles()
    {
        var staff = await Host.NewStaffAsync(StaffRole.Support, StaffRole.Admin);

        var response = await Host.LogInAsync(staff, Host.Code(staff.Totp.SecretBase32));

        Assert.True(response.Authenticated);
        Assert.Equal(staff.Staff.StaffId, response.StaffId);
        Assert.Equal("Test Staff", response.Name);
        Assert.Equal([StaffRole.Support, StaffRole.Admin], response.Roles.Order());
        var audit = await Host.Audit.ListAsync(new ListAuditRequest { Subject = staff.Staff.StaffId, Action = "staff.authenticated" });
        Assert.Equal(staff.Staff.StaffId, Assert.Single(audit.Entries).Actor);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public async Task Authenticate_CodeOneStepAway_AcceptedAsClockDrift(int steps)
    {
        var staff = await Host.NewStaffAsync();

        var response = await Host.LogInAsync(staff, Host.Code(staff.Totp.SecretBase32, steps));

        Assert.True(response.Authenticated);
    }

    [Theory]
    [InlineData(-2)]
    [InlineData(2)]
    public async Task Authenticate_CodeTwoStepsAway_Refused(int steps)
    {
        var staff = await Host.NewStaffAsync();

        var response = await Host.LogInAsync(staff, Host.Code(staff.Totp.SecretBase32, steps));

        Assert.False(response.Authenticated);
    }

    [Fact]
    public async Task Authenticate_SameCodeTwice_SecondRefusedAsReplay_EvenWithinItsStep()
    {
        var staff = await Host.NewStaffAsync();
        var code = Host.Code(staff.Totp.SecretBase32);

        var first = await Host.LogInAsync(staff, code);
        var second = await Host.LogInAsync(staff, code);

        Assert.True(first.Authenticated);
        Assert.False(second.Authenticated);
        // The previous step's code is older still: refused too, although within the drift window.
        Assert.False((await Host.LogInAsync(staff, Host.Code(staff.Totp.SecretBase32, -1))).Authenticated);
        // The next step's code is new: accepted.
        Assert.True((await Host.LogInAsync(staff, Host.Code(staff.Totp.SecretBase32, 1))).Authenticated);
    }

    [Fact]
    public async Task Authenticate_FiveWrongCodes_LockedUntilItEnds_ThenTheNextLockIsLonger()
    {
        await using var host = await SupportTestHost.StartAsync();
        var staff = await host.NewStaffAsync();
        for (var i = 0; i < 4; i++)
        {
            Assert.False((await host.LogInAsync(staff, host.WrongCode(staff.Totp.SecretBase32))).Authenticated);
        }

        var locked = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => host.LogInAsync(staff, host.WrongCode(staff.Totp.SecretBase32)));
        var lockedUntil = long.Parse(locked.Trailers.GetValue("bulwark-locked-until-unix-ms")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(host.Time.GetUtcNow().AddSeconds(SupportLimits.LockSecondsFirst).ToUnixTimeMilliseconds(), lockedUntil);
        Assert.Contains("locked", locked.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("code", locked.Status.Detail, StringComparison.OrdinalIgnoreCase);
        // While locked, even the right password and code are refused with the lock.
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => host.LogInAsync(staff, host.Code(staff.Totp.SecretBase32)));
        Assert.Equal(lockedUntil, (await host.Staff.GetStaffAsync(new GetStaffRequest { StaffId = staff.Staff.StaffId })).LockedUntilUnixMs);

        // The lock ends; five more failures lock it again, twice as long.
        host.Time.Advance(TimeSpan.FromSeconds(SupportLimits.LockSecondsFirst));
        for (var i = 0; i < 4; i++)
        {
            Assert.False((await host.LogInAsync(staff, host.Code(staff.Totp.SecretBase32), password: "a wrong password!")).Authenticated);
        }
        var again = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => host.LogInAsync(staff, host.WrongCode(staff.Totp.SecretBase32)));
        Assert.Equal(host.Time.GetUtcNow().AddSeconds(2 * SupportLimits.LockSecondsFirst).ToUnixTimeMilliseconds(),
            long.Parse(again.Trailers.GetValue("bulwark-locked-until-unix-ms")!, System.Globalization.CultureInfo.InvariantCulture));

        host.Time.Advance(TimeSpan.FromSeconds(2 * SupportLimits.LockSecondsFirst));
        Assert.True((await host.LogInAsync(staff, host.Code(staff.Totp.SecretBase32))).Authenticated);
        var locks = await host.Audit.ListAsync(new ListAuditRequest { Subject = staff.Staff.StaffId, Action = "staff.locked" });
        Assert.Equal(2, locks.Entries.Count);
        Assert.All(locks.Entries, entry => Assert.Equal("system", entry.Actor));
    }

    [Fact]
    public async Task Authenticate_DisabledStaff_RefusedWithTheRightPasswordAndCode()
    {
        var staff = await Host.NewStaffAsync();
        await Host.Staff.DisableStaffAsync(new DisableStaffRequest { StaffId = staff.Staff.StaffId, Reason = "left the bank" });

        var response = await Host.LogInAsync(staff, Host.Code(staff.Totp.SecretBase32));

        Assert.False(response.Authenticated);
    }

    [Fact]
    public async Task Authenticate_UnknownEmailAndWrongPassword_AnswerAlike()
    {
        var staff = await Host.NewStaffAsync();
        var code = Host.Code(staff.Totp.SecretBase32);

        var unknown = await Host.Staff.AuthenticateStaffAsync(new AuthenticateStaffRequest { Email = SupportTestHost.NewEmail(), Password = SupportTestHost.Password, TotpCode = code });
        var wrongPassword = await Host.LogInAsync(staff, code, password: "not the password at all");
        var wrongCode = await Host.LogInAsync(staff, Host.WrongCode(staff.Totp.SecretBase32));

        Assert.False(unknown.Authenticated);
        Assert.Equal(unknown.ToByteArray(), wrongPassword.ToByteArray());
        Assert.Equal(unknown.ToByteArray(), wrongCode.ToByteArray());
    }

    [Theory]
    [InlineData("12345", "totp_code")]
    [InlineData("12345a", "totp_code")]
    [InlineData("", "totp_code")]
    public async Task Authenticate_MalformedCode_InvalidNamingTheField(string code, string field)
    {
        var staff = await Host.NewStaffAsync();

        await RpcAssert.InvalidAsync(field, () => Host.LogInAsync(staff, code));
    }
}
