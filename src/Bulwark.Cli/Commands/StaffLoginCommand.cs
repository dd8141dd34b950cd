using System.CommandLine;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Bulwark.Cli.Hosting;
using Bulwark.Cli.Operator;
using Bulwark.Lab.Cluster;
using static Bulwark.Cli.Commands.CustomersCommand;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark staff login|logout</c>: operator commands act as a staff member. Login asks the staff
/// edge's own login endpoint (password and the current TOTP code, the console's checks and lockouts)
/// and keeps the staff token it answers in the operator's session file (<see cref="StaffSession"/>,
/// 0600). The password and code are read from the terminal (the password unechoed), or, when standard
/// input is redirected, its first two lines (scripts, tests): never from the command line.
/// </summary>
internal static class StaffLoginCommand
{
    /// <summary>A login is one quick call; a staff edge that does not answer in this long is reported.</summary>
    private static readonly TimeSpan LoginTimeout = TimeSpan.FromSeconds(30);

    public static Command CreateLogin()
    {
        var common = CommonSymbols.Create();
        var email = new Option<string?>("--email") { Description = "Your staff email (your login)." };
        var command = new Command("login", "Log in as a staff member (password, then the TOTP code) for the operator commands that follow; the session is kept in a file only you can read.") { email };
        command.Options.Add(common.Data);
        command.Options.Add(common.State);
        command.Action = new OperatorAction("staff login", async (parse, session, cancellationToken) =>
        {
            var login = parse.GetValue(email) ?? throw new OperatorException("--email is required: your staff email.");
            var edge = StaffEdgeAddress(parse.GetValue(common.Data), parse.GetValue(common.State));
            var (password, code) = await ReadSecretsAsync(parse.InvocationConfiguration.Error, cancellationToken);
            using var http = new HttpClient { BaseAddress = new Uri($"http://{edge}/"), Timeout = LoginTimeout };
            HttpResponseMessage response;
            try
            {
                response = await http.PostAsJsonAsync(new Uri("staff/api/login", UriKind.Relative), new LoginRequest(login, password, code),
                    StaffLoginJsonContext.Default.LoginRequest, cancellationToken);
            }
            catch (Exception error) when (error is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new OperatorException($"the staff edge at http://{edge}/ is not answering: {error.Message}");
            }
            using (response)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    throw new OperatorException($"login refused ({(int)response.StatusCode}): {ProblemDetail(body)}");
                }
                var answer = JsonSerializer.Deserialize(body, StaffLoginJsonContext.Default.LoginResponse)
                    ?? throw new OperatorException("the staff edge's answer to the login was empty.");
                var saved = new StaffSession(answer.Token, answer.ExpiresAt, $"http://{edge}/", answer.StaffId, login, answer.Roles);
                saved.Save();
                await session.Output.WriteLineAsync($"Logged in as {answer.Name} <{login}> ({string.Join(", ", answer.Roles)}) until {answer.ExpiresAt:u}; session in {StaffSession.FilePath()}");
            }
            return 0;
        });
        return command;
    }

    public static Command CreateLogout()
    {
        var command = new Command("logout", "Forget the staff session (the token itself stays valid until it expires: keep the file private).");
        command.Action = new OperatorAction("staff logout", async (_, session, _) =>
        {
            await session.Output.WriteLineAsync(StaffSession.Delete()
                ? $"Logged out: removed {StaffSession.FilePath()}."
                : $"Not logged in (no {StaffSession.FilePath()}).");
            return 0;
        });
        return command;
    }

    /// <summary>The staff edge's HTTP address (host:port) of the bank named, or of the default bank or cluster.</summary>
    private static string StaffEdgeAddress(string? data, string? state)
    {
        if (data is not null && state is not null)
        {
            throw new OperatorException("give one of --data (a bulwark run bank) or --state (a cluster), not both.");
        }
        var dataDirectory = Path.GetFullPath(data ?? CommonOptions.DataDirectoryDefault);
        if (state is null && (data is not null || File.Exists(BankEndpointFile.PathIn(dataDirectory))))
        {
            BankEndpointFile? file;
            try
            {
                file = BankEndpointFile.Read(dataDirectory);
            }
            catch (Exception error) when (error is JsonException or IOException or UnauthorizedAccessException)
            {
                throw new OperatorException($"cannot read {BankEndpointFile.PathIn(dataDirectory)}: {error.Message}");
            }
            return file?.StaffHttp
                ?? throw new OperatorException(file is null
                    ? $"no bank is running on {dataDirectory}; start one with: bulwark run --data {dataDirectory}"
                    : $"the bank on {dataDirectory} names no staff edge (started by an older bulwark); restart it.");
        }
        var stateDirectory = Path.GetFullPath(state ?? ClusterCommand.StateDirectoryDefault);
        ClusterState? cluster;
        try
        {
            cluster = ClusterState.Load(stateDirectory);
        }
        catch (ClusterException error)
        {
            throw new OperatorException(error.Message);
        }
        var staffEdge = cluster?.Instances.FirstOrDefault(instance => instance.StaffPort is not null)
            ?? throw new OperatorException($"no bank running in {dataDirectory} and no cluster with a staff edge in {stateDirectory}: pass --data DIR or --state DIR.");
        return $"127.0.0.1:{staffEdge.StaffPort}";
    }

    /// <summary>The password and the TOTP code: prompted on a terminal, else the first two lines of standard input.</summary>
    private static async Task<(string Password, string Code)> ReadSecretsAsync(TextWriter error, CancellationToken cancellationToken)
    {
        string? password;
        string? code;
        if (Console.IsInputRedirected)
        {
            password = await Console.In.ReadLineAsync(cancellationToken);
            code = await Console.In.ReadLineAsync(cancellationToken);
        }
        else
        {
            password = await TerminalSecret.ReadAsync(error, "password: ");
            await error.WriteAsync("TOTP code: ");
            code = Console.ReadLine();
        }
        if (string.IsNullOrEmpty(password))
        {
            throw new OperatorException("no password (on a terminal it is asked for; from standard input, its first line is the password and its second the TOTP code).");
        }
        code = code?.Trim();
        if (string.IsNullOrEmpty(code))
        {
            throw new OperatorException("no TOTP code (the code your authenticator app shows; from standard input, its second line).");
        }
        return (password, code);
    }

    /// <summary>The detail of a problem document, or the body itself when it is not one.</summary>
    private static string ProblemDetail(string body)
    {
        try
        {
            using var problem = JsonDocument.Parse(body);
            if (problem.RootElement.ValueKind == JsonValueKind.Object && problem.RootElement.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String)
            {
                return detail.GetString()!;
            }
        }
        catch (JsonException)
        {
            // Not a problem document: say what came.
        }
        return body.Length <= 200 ? body : body[..200] + "…";
    }

    internal sealed record LoginRequest(string Email, string Password, string Totp);

    internal sealed record LoginResponse(string Token, DateTimeOffset ExpiresAt, string StaffId, string Name, IReadOnlyList<string> Roles);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(StaffLoginCommand.LoginRequest))]
[JsonSerializable(typeof(StaffLoginCommand.LoginResponse))]
internal sealed partial class StaffLoginJsonContext : JsonSerializerContext;
