using System.CommandLine;
using System.CommandLine.Invocation;
using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Accounts.Protos;
using Bulwark.Cli.Demo;
using Bulwark.Cli.Operator;
using Grpc.Core;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark customers create|list|show</c>: operator commands on a running bank — a
/// <c>bulwark run</c> bank (<c>--data</c>) or a cluster (<c>--state</c>, <c>--registry</c>) —
/// through the services' own contracts (<see cref="BankConnection"/>). Tables for people,
/// <c>--json</c> for scripts. Operating errors (bad input, unknown customer, a bank that is not
/// running or not answering) print one line and exit 2; an unreachable bank is never "not found".
/// </summary>
internal static class CustomersCommand
{
    /// <summary>The largest opening balance <c>create</c> pays in (minor units): £1,000,000.00.</summary>
    public const long OpeningBalanceMinorMax = 100_000_000;

    public const int ListLimitDefault = 50;

    /// <summary>The contract's own page limit (AccountsLimits.ListCustomersLimitMax).</summary>
    public const int ListLimitMax = Bulwark.Accounts.AccountsLimits.ListCustomersLimitMax;

    private const string FieldTrailer = "bulwark-field";

    public static Command Create()
    {
        var command = new Command("customers", "Create, list and inspect customers on a running bank (bulwark run) or cluster, through the services' contracts.");
        command.Subcommands.Add(CreateCreate());
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateShow());
        return command;
    }

    /// <summary>The options every customers command takes: where the bank is, and the output form.</summary>
    internal sealed record CommonSymbols(Option<string?> Data, Option<string?> State, Option<string?> Registry, Option<bool> Json)
    {
        public static CommonSymbols Create() => new(
            new Option<string?>("--data") { Description = "Data directory of a running bulwark run bank (found through DATA/bank.json, which it writes). Without --data, --state or --registry: ./.bulwark when a bank runs there, else the cluster in ./.bulwark/cluster." },
            new Option<string?>("--state") { Description = "State directory of a running bulwark cluster up cluster." },
            new Option<string?>("--registry") { Description = "etcd members of a cluster, e.g. etcd://127.0.0.1:2379,127.0.0.1:2479." },
            new Option<bool>("--json") { Description = "Write JSON (amounts in minor units) instead of tables." });

        public void AddTo(Command command)
        {
            command.Options.Add(Data);
            command.Options.Add(State);
            command.Options.Add(Registry);
            command.Options.Add(Json);
            if (!command.Options.Any(option => option.Name == "--reason"))
            {
                command.Options.Add(new Option<string?>("--reason")
                {
                    Description = $"Why (required, {OperatorCredentials.ReasonLengthMin}-{OperatorCredentials.ReasonLengthMax} characters): the operator gateway writes it to the audit log with your staff identity. Default: ${OperatorCredentials.ReasonVariable}.",
                });
            }
        }

        /// <summary>
        /// Where the bank is, and the reason of the command: its <c>--reason</c> (added by <see cref="AddTo"/>
        /// unless the command has its own, which then serves both), else <c>$BULWARK_REASON</c>.
        /// </summary>
        public BankTarget Target(ParseResult parse) => new(parse.GetValue(Data), parse.GetValue(State), parse.GetValue(Registry))
        {
            Reason = parse.GetValue<string?>("--reason"),
        };
    }

    private static Command CreateCreate()
    {
        var common = CommonSymbols.Create();
        var name = new Option<string?>("--name") { Description = "The customer's name (1-100 characters)." };
        var email = new Option<string?>("--email") { Description = "The customer's email: their login, unique without regard to case." };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the customer's password (8-128 characters) from the first line of standard input. Without it the customer has no password and cannot log in. Passwords are never taken on the command line, which every user of the machine can read." };
        var openingBalance = new Option<string?>("--opening-balance") { Description = "Pay this much (GBP, e.g. 250.00) into the new current account from the bank's funding account." };
        var command = new Command("create", "Create a customer with a GBP current account, optionally with a password and an opening balance.") { name, email, passwordStdin, openingBalance };
        common.AddTo(command);
        command.Action = new OperatorAction("customers create", async (parse, session, cancellationToken) =>
        {
            var request = new CreateCustomerRequest
            {
                Name = parse.GetValue(name) ?? throw new OperatorException("--name is required: the customer's name."),
                Email = parse.GetValue(email) ?? throw new OperatorException("--email is required: the customer's email, their login."),
                Currency = DemoSeeder.Currency,
            };
            var amount = parse.GetValue(openingBalance) is { } text ? ParseAmount(text, "--opening-balance", OpeningBalanceMinorMax) : 0;
            if (parse.GetValue(passwordStdin))
            {
                request.Password = await ReadPasswordAsync(parse.InvocationConfiguration.Error);
            }
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var output = session.Output;
            return await CustomerCreation.RunAsync(bank, request, amount, parse.GetValue(common.Json), output, cancellationToken);
        });
        return command;
    }

    private static Command CreateList()
    {
        var common = CommonSymbols.Create();
        var limit = CommonOptions.PositiveInt("--limit", $"Customers on this page (default {ListLimitDefault}, at most {ListLimitMax}).", ListLimitDefault, ListLimitMax);
        var after = new Option<string?>("--after") { Description = "Start after this cursor: the next-page cursor the previous page printed." };
        var command = new Command("list", "List customers a page at a time, oldest first.") { limit, after };
        common.AddTo(command);
        command.Action = new OperatorAction("customers list", async (parse, session, cancellationToken) =>
        {
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var output = session.Output;
            var page = await bank.Accounts.ListCustomersAsync(new ListCustomersRequest { Limit = parse.GetValue(limit), Cursor = parse.GetValue(after) ?? "" }, cancellationToken: cancellationToken);
            if (parse.GetValue(common.Json))
            {
                var json = new JsonObject
                {
                    ["customers"] = new JsonArray([.. page.Customers.Select(CustomerViews.ToJson)]),
                    ["nextCursor"] = page.NextCursor.Length > 0 ? page.NextCursor : null,
                };
                await output.WriteLineAsync(json.ToJsonString(CustomerViews.JsonOptions));
                return 0;
            }
            await CustomerViews.WriteTableAsync(output, ["CUSTOMER ID", "NAME", "EMAIL", "CREATED (UTC)"],
                page.Customers.Select(c => new[] { c.CustomerId, c.Name, c.Email, CustomerViews.Time(c.CreatedAtUnixMs) }));
            await output.WriteLineAsync(page.NextCursor.Length > 0
                ? $"{page.Customers.Count} customer(s); next page: --after {page.NextCursor}"
                : $"{page.Customers.Count} customer(s); no more pages.");
            return 0;
        });
        return command;
    }

    private static Command CreateShow()
    {
        var common = CommonSymbols.Create();
        var customer = new Argument<string?>("customer") { Description = "The customer's id (a UUID) or email.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("show", "Show a customer: their accounts and pots with balances from the ledger, and their cards (last four digits only).") { customer };
        common.AddTo(command);
        command.Action = new OperatorAction("customers show", async (parse, session, cancellationToken) =>
        {
            var key = parse.GetValue(customer) ?? throw new OperatorException("give the customer's id or email: bulwark customers show ID|EMAIL.");
            if (key.StartsWith('-'))
            {
                throw new OperatorException($"unknown option '{key}' (see bulwark customers show --help).");
            }
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var output = session.Output;
            var found = key.Contains('@', StringComparison.Ordinal)
                ? await bank.Accounts.FindCustomerByEmailAsync(new FindCustomerByEmailRequest { Email = key }, cancellationToken: cancellationToken)
                : await bank.Accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = key }, cancellationToken: cancellationToken);
            if (found.Synthetic)
            {
                // The coherence checker's synthetic customers are in no operator's view: to this command they do not exist.
                throw new RpcException(new Status(StatusCode.NotFound, $"There is no customer {key}."));
            }
            var details = await CustomerDetails.LoadAsync(bank, found, cancellationToken);
            await (parse.GetValue(common.Json)
                ? output.WriteLineAsync(details.ToJson().ToJsonString(CustomerViews.JsonOptions))
                : details.WriteAsync(output));
            return 0;
        });
        return command;
    }

    /// <summary>An amount in major units with at most two decimals (e.g. 250 or 250.00), as minor units; 1 to <paramref name="max"/>.</summary>
    internal static long ParseAmount(string text, string option, long max)
    {
        if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || decimal.Round(value, 2) != value)
        {
            throw new OperatorException($"{option} must be an amount in pounds with at most two decimals, e.g. 250.00, not '{text}'.");
        }
        var minor = value * 100;
        if (minor < 1 || minor > max)
        {
            throw new OperatorException(string.Create(CultureInfo.InvariantCulture, $"{option} must be from 0.01 to {max / 100m:N2}, not {text}."));
        }
        return (long)minor;
    }

    /// <summary>
    /// The first line of standard input. From a terminal it is read without echo, after a prompt on
    /// standard error (so that a script's standard output stays clean).
    /// </summary>
    private static async Task<string> ReadPasswordAsync(TextWriter error)
    {
        string? line;
        if (Console.IsInputRedirected)
        {
            line = await Console.In.ReadLineAsync();
        }
        else
        {
            line = await TerminalSecret.ReadAsync(error, "password: ");
        }
        return string.IsNullOrEmpty(line) ? throw new OperatorException("--password-stdin: no password on standard input (its first line is the password).") : line;
    }

    /// <summary>
    /// What an INVALID_ARGUMENT from a contract is called on this command line: the service names
    /// its field (trailer <c>bulwark-field</c>), the operator typed an option.
    /// </summary>
    private static string OptionOf(string field) => field switch
    {
        "name" => "--name",
        "email" => "--email",
        "password" => "the password (--password-stdin)",
        "customer_id" => "the customer id",
        "cursor" => "--after (a cursor a previous page printed)",
        "limit" => "--limit",
        _ => field,
    };

    /// <summary>One line and an exit code for a failed call: 2 for what the operator can fix or must know (bad input, not found, not answering), 1 for the rest.</summary>
    internal static (int ExitCode, string Message) Describe(RpcException error, string bank)
    {
        ArgumentNullException.ThrowIfNull(error);
        var detail = error.Status.Detail;
        switch (error.StatusCode)
        {
            case StatusCode.InvalidArgument:
                var field = error.Trailers.GetValue(FieldTrailer);
                return (2, field is not null && detail.StartsWith(field, StringComparison.Ordinal) ? OptionOf(field) + detail[field.Length..] : detail);
            case StatusCode.NotFound:
            case StatusCode.AlreadyExists:
            // The operator gateway's refusals (no staff session, a role that may not, outside the ranges) say what to do.
            case StatusCode.Unauthenticated:
            case StatusCode.PermissionDenied:
                return (2, detail);
            case StatusCode.Unavailable:
            case StatusCode.DeadlineExceeded:
                return (2, $"{bank} is not answering ({error.StatusCode}): {detail}");
            default:
                return (1, $"{bank} failed the call ({error.StatusCode}): {detail}");
        }
    }

    /// <summary>What a command's body gets: its output, and the connection it opens (remembered for error messages).</summary>
    internal sealed class OperatorSession(TextWriter output)
    {
        public TextWriter Output { get; } = output;

        /// <summary>The bank the command talks to, for messages: "the bank" until connected.</summary>
        public string Bank { get; private set; } = "the bank";

        public async Task<BankConnection> ConnectAsync(BankTarget target, CancellationToken cancellationToken)
        {
            var connection = await BankConnection.ConnectAsync(target, cancellationToken);
            Bank = connection.Description;
            return connection;
        }
    }

    /// <summary>
    /// Runs a customers command: parse errors, operating errors and failed calls each become one
    /// line on standard error and exit code 2 (1 for a call that failed otherwise), never help or a stack trace.
    /// </summary>
    internal sealed class OperatorAction(string name, Func<ParseResult, OperatorSession, CancellationToken, Task<int>> body) : AsynchronousCommandLineAction
    {
        // Parse errors come here too, so that they exit 2 with one line like every other bad input.
        public override bool ClearsParseErrors => true;

        public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(parseResult);
            var error = parseResult.InvocationConfiguration.Error;
            if (parseResult.Errors.Count > 0)
            {
                await error.WriteLineAsync($"bulwark {name}: {parseResult.Errors[0].Message}");
                return 2;
            }
            if (parseResult.UnmatchedTokens.Count > 0)
            {
                // Cleared from Errors with the rest (ClearsParseErrors), so checked here.
                await error.WriteLineAsync($"bulwark {name}: unknown option or argument '{parseResult.UnmatchedTokens[0]}' (see bulwark {name} --help).");
                return 2;
            }
            var session = new OperatorSession(parseResult.InvocationConfiguration.Output);
            try
            {
                return await body(parseResult, session, cancellationToken);
            }
            catch (OperatorException exception)
            {
                await error.WriteLineAsync($"bulwark {name}: {exception.Message}");
                return 2;
            }
            catch (RpcException exception) when (exception.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
            {
                var (exitCode, message) = Describe(exception, session.Bank);
                await error.WriteLineAsync($"bulwark {name}: {message}");
                return exitCode;
            }
            catch (Exception exception) when (exception is OperationCanceledException or RpcException)
            {
                await error.WriteLineAsync($"bulwark {name}: interrupted.");
                return 130;
            }
        }
    }
}
