using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Bulwark.Cli.Commands;
using Bulwark.Cli.Hosting;
using static Bulwark.Cli.Tests.TestPorts;

namespace Bulwark.Cli.Tests;

/// <summary>
/// <c>bulwark customers</c> without a bank: every bad input, a bank that is not running or not
/// answering and an etcd that does not answer each exit 2 with one line naming the option or the
/// problem. In process (no child to start), so they cost milliseconds.
/// </summary>
public sealed class CustomersCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("bulwark-customers-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Runs a command line in this process, as the binary would; {dir} is an empty directory.</summary>
    internal static async Task<(int ExitCode, string Output, string Error)> InvokeAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await BulwarkCommandLine.Create().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }

    private async Task<string> FailsWithOneLineAsync(string commandLine)
    {
        var (exitCode, output, error) = await InvokeAsync(commandLine.Replace("{dir}", _directory, StringComparison.Ordinal).Split(' '));
        Assert.True(exitCode == 2, $"exit {exitCode}: {output}{error}");
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("bulwark customers ", line, StringComparison.Ordinal);
        return line;
    }

    [Theory]
    [InlineData("customers create --email a@example.com --data {dir}", "--name is required")]
    [InlineData("customers create --name Ada --data {dir}", "--email is required")]
    [InlineData("customers create --name Ada --email a@example.com --opening-balance 1.234 --data {dir}", "--opening-balance must be an amount in pounds")]
    [InlineData("customers create --name Ada --email a@example.com --opening-balance 0 --data {dir}", "--opening-balance must be from 0.01 to 1,000,000.00")]
    [InlineData("customers create --name Ada --email a@example.com --opening-balance -5 --data {dir}", "--opening-balance")]
    [InlineData("customers list --limit 501 --data {dir}", "--limit must be between 1 and 500")]
    [InlineData("customers list --limit many --data {dir}", "--limit")]
    [InlineData("customers list --frobnicate", "'--frobnicate'")]
    [InlineData("customers show --data {dir}", "give the customer's id or email")]
    [InlineData("customers show --frobnicate --data {dir}", "unknown option '--frobnicate'")]
    [InlineData("customers list --data {dir} --state {dir}", "not several")]
    [InlineData("customers list --registry http://127.0.0.1:2379", "pass --state DIR")]
    [InlineData("customers list --data {dir}", "no bank is running on")]
    [InlineData("customers show demo@bulwark.example --state {dir}", "no cluster in")]
    public async Task Invoke_BadInputOrNoBank_ExitsTwoWithOneLineNamingIt(string commandLine, string expected)
    {
        var line = await FailsWithOneLineAsync(commandLine);

        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_BankFileOfAStoppedBank_ExitsTwoSayingItIsNotRunning()
    {
        using var gone = Process.Start("true") ?? throw new InvalidOperationException("could not start true");
        await gone.WaitForExitAsync();
        WriteBankFile(gone.Id, FreePort());

        var line = await FailsWithOneLineAsync("customers list --data {dir}");

        Assert.Contains($"is not running (bank.json was left by pid {gone.Id}, which has stopped)", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_BankThatDoesNotAnswer_ExitsTwoSayingSoAndNeverNotFound()
    {
        // A live PID (this test's) but nothing listening where the file says: unreachable, not "no such customer".
        WriteBankFile(Environment.ProcessId, FreePort());

        // As a logged-in staff member (a session the unanswering gateway never gets to check), in a process of its own for its environment.
        var session = Path.Combine(_directory, "session.json");
        File.WriteAllText(session, System.Text.Json.JsonSerializer.Serialize(new
        {
            token = "not-checked",
            expiresAt = DateTimeOffset.UtcNow.AddHours(1),
            staffEdge = "http://127.0.0.1:1/",
            staffId = "x",
            email = "x@bank.example",
            roles = new[] { "support" },
        }));
        var (exitCode, output, error) = await BulwarkProcess.RunAsync(new Dictionary<string, string> { ["BULWARK_STAFF_SESSION"] = session, ["BULWARK_REASON"] = "testing" },
            "customers", "show", "demo@bulwark.example", "--data", _directory);
        Assert.True(exitCode == 2, output + error);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        Assert.Contains("is not answering (Unavailable)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("no customer", line, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Invoke_Registry_RefusedSayingToPassTheStateDirectory()
    {
        var registry = $"etcd://127.0.0.1:{FreePort()}";

        // Operator commands go through the staff edge's operator gateway, which a cluster's state names and etcd does not.
        var line = await FailsWithOneLineAsync($"customers list --registry {registry}");

        Assert.Contains("--registry names a cluster's etcd, not its operator gateway", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("250", 25_000)]
    [InlineData("250.00", 25_000)]
    [InlineData("0.01", 1)]
    [InlineData("1000000", 100_000_000)]
    public void ParseAmount_Pounds_MinorUnits(string text, long minor)
    {
        Assert.Equal(minor, CustomersCommand.ParseAmount(text, "--opening-balance", CustomersCommand.OpeningBalanceMinorMax));
    }

    [Theory]
    [InlineData("cluster up --customers -1")]
    [InlineData("cluster up --customers lots")]
    [InlineData("cluster up --customers 100001")]
    public void Parse_ClusterUpBadCustomers_ErrorNamesTheOption(string commandLine)
    {
        var error = Assert.Single(BulwarkCommandLine.Create().Parse(commandLine).Errors);

        Assert.Contains("--customers must be a whole number from 0 to 100,000", error.Message, StringComparison.Ordinal);
    }

    private void WriteBankFile(int pid, int port)
    {
        var address = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        var file = new BankEndpointFile(1, pid, address, DateTimeOffset.UtcNow) { OperatorGrpc = address, StaffHttp = address };
        File.WriteAllText(BankEndpointFile.PathIn(_directory), System.Text.Json.JsonSerializer.Serialize(file, BankEndpointJsonContext.Default.BankEndpointFile));
    }
}
