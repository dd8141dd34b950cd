using System.Text;
using System.Text.Json;
using Bulwark.Support.Protos;
using Grpc.Core;
using OtpNet;

namespace Bulwark.Support.Tests.Grpc;

public sealed class StaffDirectoryTests(SupportHostFixture fixture) : IClassFixture<SupportHostFixture>
{
    private SupportTestHost Host => fixture.Host;

    [Fact]
    public async Task CreateStaff_AnswersTheEnrolmentOnce_AndAuditsWithoutTheSecret()
    {
        var email = SupportTestHost.NewEmail();

        var created = await Host.Staff.CreateStaffAsync(new CreateStaffRequest
        {
            Email = email,
            Name = "Grace Hopper",
            Roles = { StaffRole.Operations, StaffRole.Support, StaffRole.Support },
            Password = SupportTestHost.Password,
            SourceAddress = "10.1.2.3",
        });

        Assert.Equal(20, Base32Encoding.ToBytes(created.Totp.SecretBase32).Length);
        Assert.StartsWith($"otpauth://totp/Bulwark:{Uri.EscapeDataString(email)}?secret={created.Totp.SecretBase32}&issuer=Bulwark", created.Totp.OtpauthUri, StringComparison.Ordinal);
        Assert.Equal([StaffRole.Support, StaffRole.Operations], created.Staff.Roles.Order());
        var fetched = await Host.Staff.GetStaffAsync(new GetStaffRequest { StaffId = created.Staff.StaffId });
        Assert.Equal(created.Staff, fetched);
        Assert.Equal(("operator", "staff.created", created.Staff.StaffId, "10.1.2.3"),
            (created.Audit.Actor, created.Audit.Action, created.Audit.Subject, created.Audit.SourceAddress));
        Assert.DoesNotContain(created.Totp.SecretBase32, created.Audit.DetailsJson, StringComparison.Ordinal);
        Assert.Equal(email, JsonDocument.Parse(created.Audit.DetailsJson).RootElement.GetProperty("email").GetString());
    }

    [Fact]
    public async Task CreateStaff_TotpSecretNeverInTheDatabaseInClear()
    {
        var created = await Host.NewStaffAsync();
        var secret = Base32Encoding.ToBytes(created.Totp.SecretBase32);

        Assert.False(DatabaseFiles.Contain(Host.DatabasePath, secret));
        Assert.False(DatabaseFiles.Contain(Host.DatabasePath, Encoding.ASCII.GetBytes(created.Totp.SecretBase32)));
        Assert.False(DatabaseFiles.Contain(Host.DatabasePath, Encoding.UTF8.GetBytes(SupportTestHost.Password)));
        Assert.True(DatabaseFiles.Contain(Host.DatabasePath, Encoding.UTF8.GetBytes(created.Staff.StaffId)));
    }

    [Fact]
    public async Task CreateStaff_EmailTakenInOtherCase_AlreadyExists()
    {
        var first = await Host.NewStaffAsync();

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Host.Staff.CreateStaffAsync(new CreateStaffRequest
        {
            Email = first.Staff.Email.ToUpperInvariant(),
            Name = "Twin",
            Roles = { StaffRole.Support },
            Password = SupportTestHost.Password,
        }).ResponseAsync);
    }

    [Theory]
    [InlineData("email", "not-an-email", "Name", 1, "a long staff password")]
    [InlineData("name", "x@bank.example", "", 1, "a long staff password")]
    [InlineData("roles", "x@bank.example", "Name", 0, "a long staff password")]
    [InlineData("roles", "x@bank.example", "Name", 9, "a long staff password")]
    [InlineData("password", "x@bank.example", "Name", 1, "short")]
    public async Task CreateStaff_BadField_InvalidNamingTheField(string field, string email, string name, int role, string password)
    {
        var request = new CreateStaffRequest { Email = email, Name = name, Password = password };
        if (role != 0)
        {
            request.Roles.Add((StaffRole)role);
        }

        await RpcAssert.InvalidAsync(field, () => Host.Staff.CreateStaffAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task ChangesByAStaffMember_NeedAnEnabledAdmin()
    {
        var agent = await Host.NewStaffAsync(StaffRole.Support);
        var admin = await Host.NewStaffAsync(StaffRole.Admin);
        var target = await Host.NewStaffAsync();

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Staff.DisableStaffAsync(new DisableStaffRequest
        {
            StaffId = target.Staff.StaffId,
            Reason = "no reason",
            ActorStaffId = agent.Staff.StaffId,
        }).ResponseAsync);
        var disabled = await Host.Staff.DisableStaffAsync(new DisableStaffRequest { StaffId = target.Staff.StaffId, Reason = "left", ActorStaffId = admin.Staff.StaffId });

        Assert.True(disabled.Disabled);
        var entry = Assert.Single((await Host.Audit.ListAsync(new ListAuditRequest { Subject = target.Staff.StaffId, Action = "staff.disabled" })).Entries);
        Assert.Equal((admin.Staff.StaffId, "left"), (entry.Actor, entry.Reason));
    }

    [Fact]
    public async Task DisableStaff_Twice_OneAuditEntry_AndUnknownIsNotFound()
    {
        var staff = await Host.NewStaffAsync();

        await Host.Staff.DisableStaffAsync(new DisableStaffRequest { StaffId = staff.Staff.StaffId, Reason = "left the bank" });
        var again = await Host.Staff.DisableStaffAsync(new DisableStaffRequest { StaffId = staff.Staff.StaffId, Reason = "again" });

        Assert.Equal("left the bank", again.DisabledReason);
        Assert.Single((await Host.Audit.ListAsync(new ListAuditRequest { Subject = staff.Staff.StaffId, Action = "staff.disabled" })).Entries);
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Staff.DisableStaffAsync(new DisableStaffRequest { StaffId = Guid.NewGuid().ToString(), Reason = "x" }).ResponseAsync);
        await RpcAssert.InvalidAsync("reason", () => Host.Staff.DisableStaffAsync(new DisableStaffRequest { StaffId = staff.Staff.StaffId }).ResponseAsync);
    }

    [Fact]
    public async Task ResetTotp_OldSecretStopsWorking_NewOneWorks_Audited()
    {
        var staff = await Host.NewStaffAsync();

        var reset = await Host.Staff.ResetTotpAsync(new ResetTotpRequest { StaffId = staff.Staff.StaffId, Reason = "lost phone" });

        Assert.NotEqual(staff.Totp.SecretBase32, reset.Totp.SecretBase32);
        Assert.Equal(("staff.totp_reset", "lost phone"), (reset.Audit.Action, reset.Audit.Reason));
        Assert.False((await Host.LogInAsync(staff, Host.Code(staff.Totp.SecretBase32))).Authenticated);
        Assert.True((await Host.LogInAsync(staff, Host.Code(reset.Totp.SecretBase32))).Authenticated);
    }

    [Fact]
    public async Task ListStaff_PagesThroughEveryone()
    {
        await using var host = await SupportTestHost.StartAsync();
        var created = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            created.Add((await host.NewStaffAsync()).Staff.StaffId);
        }

        var first = await host.Staff.ListStaffAsync(new ListStaffRequest { Limit = 2 });
        var second = await host.Staff.ListStaffAsync(new ListStaffRequest { Limit = 2, Cursor = first.NextCursor });

        Assert.Equal(created.Order(StringComparer.Ordinal), first.Staff.Concat(second.Staff).Select(s => s.StaffId));
        Assert.Equal("", second.NextCursor);
        await RpcAssert.InvalidAsync("limit", () => host.Staff.ListStaffAsync(new ListStaffRequest { Limit = 501 }).ResponseAsync);
    }

    [Fact]
    public async Task Restart_WithARotatedKey_SecretsReEncrypted_OldKeyCanGo_AndALostKeyFailsClosedUntilReset()
    {
        var directory = SupportTestHost.NewDirectory();
        try
        {
            string secret;
            CreateStaffResponse staff;
            await using (var host = await SupportTestHost.StartAsync(directory))
            {
                staff = await host.NewStaffAsync();
                secret = staff.Totp.SecretBase32;
            }
            var keyPath = Path.Combine(directory, "keys", "totp.key");
            var oldKey = await File.ReadAllTextAsync(keyPath);
            await File.AppendAllTextAsync(keyPath, "2 " + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)) + "\n");
            await using (var host = await SupportTestHost.StartAsync(directory))
            {
                Assert.True((await host.LogInAsync(staff, host.Code(secret))).Authenticated);
            }
            // Every secret is under key 2 now: key 1 may leave the file.
            await File.WriteAllTextAsync(keyPath, (await File.ReadAllLinesAsync(keyPath)).Last() + "\n");
            await using (var host = await SupportTestHost.StartAsync(directory, SupportTestHost.Start.AddMinutes(5)))
            {
                Assert.True((await host.LogInAsync(staff, host.Code(secret))).Authenticated);
            }
            // Back to only the old key: the secrets are not under it any more. The service starts
            // (the directory stays manageable), the login fails closed, and a reset brings it back.
            await File.WriteAllTextAsync(keyPath, oldKey);
            await using (var host = await SupportTestHost.StartAsync(directory, SupportTestHost.Start.AddMinutes(10)))
            {
                Assert.False((await host.LogInAsync(staff, host.Code(secret))).Authenticated);
                var reset = await host.Staff.ResetTotpAsync(new ResetTotpRequest { StaffId = staff.Staff.StaffId, Reason = "key file lost" });
                Assert.True((await host.LogInAsync(staff, host.Code(reset.Totp.SecretBase32))).Authenticated);
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
