using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Cli.Operator;
using Bulwark.Support.Protos;
using static Bulwark.Cli.Commands.CustomersCommand;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark staff add|list|disable|reset-totp</c>: the staff directory of a running bank (the
/// support service's contract), as <c>bulwark customers</c> reaches customers. Passwords are read
/// from standard input or a file, never from the command line (every user of the machine can read
/// a command line). A new TOTP secret is printed once; the service keeps it only encrypted.
/// Every change is audited by the service as done by "operator" with the reason given.
/// </summary>
internal static class StaffCommand
{
    public const int ListLimitDefault = 50;

    public static Command Create()
    {
        var command = new Command("staff", "Log in as staff for operator commands; add, list, disable staff and reset their second factor (TOTP) on a running bank or cluster.");
        command.Subcommands.Add(StaffLoginCommand.CreateLogin());
        command.Subcommands.Add(StaffLoginCommand.CreateLogout());
        command.Subcommands.Add(CreateAdd());
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateDisable());
        command.Subcommands.Add(CreateResetTotp());
        return command;
    }

    private static Command CreateAdd()
    {
        var common = CommonSymbols.Create();
        var email = new Option<string?>("--email") { Description = "The staff member's email: their login, unique without regard to case." };
        var name = new Option<string?>("--name") { Description = "The staff member's name (1-100 characters)." };
        var roles = new Option<string[]>("--role") { Description = "A role: support, operations or admin. Repeat for several.", Arity = ArgumentArity.OneOrMore };
        var passwordFile = new Option<FileInfo?>("--password-file") { Description = "Read the password (12-128 characters) from the first line of this file. Without it, from the first line of standard input." };
        var reason = new Option<string?>("--reason") { Description = "Why, for the audit log. Default: \"new staff member\"." };
        var command = new Command("add", "Add a staff member with a password and a new TOTP secret (printed once: add it to an authenticator app).") { email, name, roles, passwordFile, reason };
        common.AddTo(command);
        command.Action = new OperatorAction("staff add", async (parse, session, cancellationToken) =>
        {
            var request = new CreateStaffRequest
            {
                Email = parse.GetValue(email) ?? throw new OperatorException("--email is required: the staff member's email, their login."),
                Name = parse.GetValue(name) ?? throw new OperatorException("--name is required: the staff member's name."),
                Reason = parse.GetValue(reason) ?? "",
            };
            var given = parse.GetValue(roles) ?? [];
            request.Roles.Add(given.Length > 0 ? given.Select(ParseRole) : throw new OperatorException("--role is required: support, operations or admin (repeat for several)."));
            request.Password = await ReadPasswordAsync(parse.GetValue(passwordFile), parse.InvocationConfiguration.Error);
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var created = await bank.Staff.CreateStaffAsync(request, cancellationToken: cancellationToken);
            await WriteEnrolmentAsync(session.Output, parse.GetValue(common.Json), created.Staff, created.Totp, created.Audit, "Added");
            return 0;
        });
        return command;
    }

    private static Command CreateList()
    {
        var common = CommonSymbols.Create();
        var limit = CommonOptions.PositiveInt("--limit", $"Staff on this page (default {ListLimitDefault}, at most {Bulwark.Support.SupportLimits.ListStaffLimitMax}).",
            ListLimitDefault, Bulwark.Support.SupportLimits.ListStaffLimitMax);
        var after = new Option<string?>("--after") { Description = "Start after this cursor: the next-page cursor the previous page printed." };
        var command = new Command("list", "List staff a page at a time, oldest first.") { limit, after };
        common.AddTo(command);
        command.Action = new OperatorAction("staff list", async (parse, session, cancellationToken) =>
        {
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var page = await bank.Staff.ListStaffAsync(new ListStaffRequest { Limit = parse.GetValue(limit), Cursor = parse.GetValue(after) ?? "" }, cancellationToken: cancellationToken);
            var output = session.Output;
            if (parse.GetValue(common.Json))
            {
                var json = new JsonObject
                {
                    ["staff"] = new JsonArray([.. page.Staff.Select(ToJson)]),
                    ["nextCursor"] = page.NextCursor.Length > 0 ? page.NextCursor : null,
                };
                await output.WriteLineAsync(json.ToJsonString(CustomerViews.JsonOptions));
                return 0;
            }
            await CustomerViews.WriteTableAsync(output, ["STAFF ID", "NAME", "EMAIL", "ROLES", "STATE", "CREATED (UTC)"],
                page.Staff.Select(s => new[] { s.StaffId, s.Name, s.Email, Roles(s), State(s), CustomerViews.Time(s.CreatedAtUnixMs) }));
            await output.WriteLineAsync(page.NextCursor.Length > 0
                ? $"{page.Staff.Count} staff member(s); next page: --after {page.NextCursor}"
                : $"{page.Staff.Count} staff member(s); no more pages.");
            return 0;
        });
        return command;
    }

    private static Command CreateDisable()
    {
        var common = CommonSymbols.Create();
        var staffId = new Argument<string?>("staff-id") { Description = "The staff member's id (a UUID).", Arity = ArgumentArity.ZeroOrOne };
        var reason = new Option<string?>("--reason") { Description = "Why, for the audit log. Required." };
        var command = new Command("disable", "Disable a staff member for good: they can never log in again.") { staffId, reason };
        common.AddTo(command);
        command.Action = new OperatorAction("staff disable", async (parse, session, cancellationToken) =>
        {
            var request = new DisableStaffRequest
            {
                StaffId = parse.GetValue(staffId) ?? throw new OperatorException("give the staff member's id: bulwark staff disable ID --reason WHY."),
                Reason = parse.GetValue(reason) ?? throw new OperatorException("--reason is required: why, for the audit log."),
            };
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var staff = await bank.Staff.DisableStaffAsync(request, cancellationToken: cancellationToken);
            await (parse.GetValue(common.Json)
                ? session.Output.WriteLineAsync(ToJson(staff).ToJsonString(CustomerViews.JsonOptions))
                : session.Output.WriteLineAsync($"Disabled staff member {staff.StaffId} ({staff.Name} <{staff.Email}>): {staff.DisabledReason}"));
            return 0;
        });
        return command;
    }

    private static Command CreateResetTotp()
    {
        var common = CommonSymbols.Create();
        var staffId = new Argument<string?>("staff-id") { Description = "The staff member's id (a UUID).", Arity = ArgumentArity.ZeroOrOne };
        var reason = new Option<string?>("--reason") { Description = "Why, for the audit log. Required." };
        var command = new Command("reset-totp", "Give a staff member a new TOTP secret (printed once); the old one stops working at once.") { staffId, reason };
        common.AddTo(command);
        command.Action = new OperatorAction("staff reset-totp", async (parse, session, cancellationToken) =>
        {
            var request = new ResetTotpRequest
            {
                StaffId = parse.GetValue(staffId) ?? throw new OperatorException("give the staff member's id: bulwark staff reset-totp ID --reason WHY."),
                Reason = parse.GetValue(reason) ?? throw new OperatorException("--reason is required: why, for the audit log."),
            };
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var reset = await bank.Staff.ResetTotpAsync(request, cancellationToken: cancellationToken);
            await WriteEnrolmentAsync(session.Output, parse.GetValue(common.Json), reset.Staff, reset.Totp, reset.Audit, "Reset the TOTP secret of");
            return 0;
        });
        return command;
    }

    private static StaffRole ParseRole(string text) => text.Trim().ToLowerInvariant() switch
    {
        "support" => StaffRole.Support,
        "operations" => StaffRole.Operations,
        "admin" => StaffRole.Admin,
        _ => throw new OperatorException($"--role must be support, operations or admin, not '{text}'."),
    };

    internal static string RoleName(StaffRole role) => role switch
    {
        StaffRole.Support => "support",
        StaffRole.Operations => "operations",
        StaffRole.Admin => "admin",
        _ => "unknown",
    };

    private static string Roles(Staff staff) => string.Join(',', staff.Roles.Select(RoleName));

    private static string State(Staff staff) =>
        staff.Disabled ? "disabled"
        : staff.LockedUntilUnixMs > 0 ? "locked until " + CustomerViews.Time(staff.LockedUntilUnixMs)
        : "active";

    private static JsonObject ToJson(Staff staff) => new()
    {
        ["staffId"] = staff.StaffId,
        ["name"] = staff.Name,
        ["email"] = staff.Email,
        ["roles"] = new JsonArray([.. staff.Roles.Select(role => (JsonNode)RoleName(role))]),
        ["disabled"] = staff.Disabled,
        ["disabledReason"] = staff.Disabled ? staff.DisabledReason : null,
        ["lockedUntilUnixMs"] = staff.LockedUntilUnixMs > 0 ? staff.LockedUntilUnixMs : null,
        ["createdAtUnixMs"] = staff.CreatedAtUnixMs,
    };

    /// <summary>The staff member and the new secret, shown this once.</summary>
    private static async Task WriteEnrolmentAsync(TextWriter output, bool json, Staff staff, TotpEnrolment totp, AuditEntry audit, string verb)
    {
        if (json)
        {
            var node = ToJson(staff);
            node["totpSecret"] = totp.SecretBase32;
            node["otpauthUri"] = totp.OtpauthUri;
            node["auditSequence"] = audit.Sequence;
            await output.WriteLineAsync(node.ToJsonString(CustomerViews.JsonOptions));
            return;
        }
        await output.WriteLineAsync($"{verb} staff member {staff.StaffId} ({staff.Name} <{staff.Email}>), roles {Roles(staff)}.");
        await output.WriteLineAsync("TOTP secret, shown this once (add it to an authenticator app; the bank keeps it encrypted and never shows it again):");
        await output.WriteLineAsync($"  secret: {totp.SecretBase32}");
        await output.WriteLineAsync($"  uri:    {totp.OtpauthUri}");
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Audited as entry {audit.Sequence} ({audit.Action})."));
    }

    /// <summary>The first line of <paramref name="file"/>, or of standard input (from a terminal: without echo, after a prompt on standard error).</summary>
    private static async Task<string> ReadPasswordAsync(FileInfo? file, TextWriter error)
    {
        string? line;
        if (file is not null)
        {
            try
            {
                line = File.ReadLines(file.FullName).FirstOrDefault();
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                throw new OperatorException($"--password-file: cannot read {file.FullName}: {exception.Message}");
            }
        }
        else if (Console.IsInputRedirected)
        {
            line = await Console.In.ReadLineAsync();
        }
        else
        {
            line = await TerminalSecret.ReadAsync(error, "staff password: ");
        }
        return string.IsNullOrEmpty(line)
            ? throw new OperatorException("no password: give it on the first line of standard input or of --password-file.")
            : line;
    }
}
