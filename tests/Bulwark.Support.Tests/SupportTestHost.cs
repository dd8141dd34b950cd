using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Bulwark.Support.Protos;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using OtpNet;
using ApprovalsClient = Bulwark.Support.Protos.Approvals.ApprovalsClient;
using AuditClient = Bulwark.Support.Protos.Audit.AuditClient;
using ChatClient = Bulwark.Support.Protos.Chat.ChatClient;
using StaffDirectoryClient = Bulwark.Support.Protos.StaffDirectory.StaffDirectoryClient;

namespace Bulwark.Support.Tests;

/// <summary>
/// The support service in one Bulwark host on loopback, on a fake clock, reached over real gRPC
/// through <c>bulwark:///support</c> — the same path the internal edge will use.
/// </summary>
public sealed class SupportTestHost : IAsyncDisposable
{
    /// <summary>Low enough to keep tests fast; production uses 210,000.</summary>
    public const int TestPasswordIterations = 1_000;

    public const string Password = "a long staff password";

    /// <summary>On a step boundary, so that "one step later" is exactly 30 s later.</summary>
    public static readonly DateTimeOffset Start = new(2030, 6, 15, 12, 0, 0, TimeSpan.Zero);

    private readonly WebApplication _app;
    private readonly bool _ownsDirectory;

    private SupportTestHost(WebApplication app, string directory, bool ownsDirectory, FakeTimeProvider time)
    {
        _app = app;
        _ownsDirectory = ownsDirectory;
        Directory = directory;
        Time = time;
        var channels = app.Services.GetRequiredService<IServiceChannelFactory>();
        Staff = new StaffDirectoryClient(channels.GetChannel("support"));
        Audit = new AuditClient(channels.GetChannel("support"));
        Chat = new ChatClient(channels.GetChannel("support"));
        Approvals = new ApprovalsClient(channels.GetChannel("support"));
    }

    public string Directory { get; }

    public string DatabasePath => Path.Combine(Directory, "support.db");

    public string KeyPath => Path.Combine(Directory, "keys", "totp.key");

    public FakeTimeProvider Time { get; }

    public StaffDirectoryClient Staff { get; }

    public AuditClient Audit { get; }

    public ChatClient Chat { get; }
    public ApprovalsClient Approvals { get; }

    public IServiceProvider Services => _app.Services;

    public static string NewDirectory() => Path.Combine(Path.GetTempPath(), "bulwark-support-tests", Guid.NewGuid().ToString("N"));

    public static string NewEmail() => $"s{Guid.NewGuid():N}@bank.example";

    /// <summary>Starts a host; with a <paramref name="directory"/> it is kept on dispose (for restarts).</summary>
    public static async Task<SupportTestHost> StartAsync(string? directory = null, DateTimeOffset? start = null)
    {
        var ownsDirectory = directory is null;
        directory ??= NewDirectory();
        var time = new FakeTimeProvider(start ?? Start);
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Warning }, new InMemoryServiceRegistry());
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddSupport(new SupportOptions
        {
            DatabasePath = Path.Combine(directory, "support.db"),
            TotpKeyPath = Path.Combine(directory, "keys", "totp.key"),
            PasswordIterations = TestPasswordIterations,
            PasswordHashingConcurrency = 1,
        });
        var app = builder.Build();
        app.UsePlatform();
        app.MapSupport();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        return new SupportTestHost(app, directory, ownsDirectory, time);
    }

    /// <summary>A new staff member (support role unless told) with <see cref="Password"/>.</summary>
    public async Task<CreateStaffResponse> NewStaffAsync(params StaffRole[] roles) =>
        await Staff.CreateStaffAsync(new CreateStaffRequest
        {
            Email = NewEmail(),
            Name = "Test Staff",
            Roles = { roles.Length == 0 ? [StaffRole.Support] : roles },
            Password = Password,
        });

    /// <summary>The code an authenticator app shows for <paramref name="secretBase32"/> at the host's time plus <paramref name="steps"/> steps.</summary>
    public string Code(string secretBase32, int steps = 0) =>
        new Totp(Base32Encoding.ToBytes(secretBase32), step: SupportLimits.TotpStepSeconds)
            .ComputeTotp(Time.GetUtcNow().UtcDateTime.AddSeconds(steps * SupportLimits.TotpStepSeconds));

    /// <summary>A code that is valid at no step within the drift window now: a wrong code, always.</summary>
    public string WrongCode(string secretBase32)
    {
        var valid = new[] { Code(secretBase32, -1), Code(secretBase32), Code(secretBase32, 1) };
        return Enumerable.Range(0, 4).Select(i => i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture)).First(code => !valid.Contains(code));
    }

    public async Task<AuthenticateStaffResponse> LogInAsync(CreateStaffResponse staff, string code, string? password = null) =>
        await Staff.AuthenticateStaffAsync(new AuthenticateStaffRequest { Email = staff.Staff.Email, Password = password ?? Password, TotpCode = code });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (_ownsDirectory && System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

/// <summary>One host shared by the tests of a class; each test makes its own staff.</summary>
public sealed class SupportHostFixture : IAsyncLifetime
{
    private SupportTestHost? _host;

    public SupportTestHost Host => _host ?? throw new InvalidOperationException("The host has not started.");

    public async Task InitializeAsync() => _host = await SupportTestHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}

public static class RpcAssert
{
    public static async Task<RpcException> FailsAsync(StatusCode expected, Func<Task> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(expected == error.StatusCode, $"Expected {expected}, got {error.StatusCode}: {error.Status.Detail}");
        return error;
    }

    /// <summary>INVALID_ARGUMENT whose message starts with the field's name and whose trailer names it.</summary>
    public static async Task<RpcException> InvalidAsync(string field, Func<Task> call)
    {
        var error = await FailsAsync(StatusCode.InvalidArgument, call);
        Assert.StartsWith(field + " ", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(field, error.Trailers.GetValue("bulwark-field"));
        return error;
    }
}
