using Bulwark.Accounts.Security;
using Bulwark.Accounts.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Accounts;

/// <summary>
/// Opens the store (applying migrations) and loads the tokenisation key when the host starts, so
/// that a broken database or key file stops the process before it registers — not at the first
/// customer's request.
/// </summary>
internal sealed partial class AccountsStartup(IServiceProvider services, AccountsOptions options, ILogger<AccountsStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.GetRequiredService<IAccountsStore>();
        var key = services.GetRequiredService<TokenisationKey>();
        if (key.Created)
        {
            LogKeyCreated(Path.GetFullPath(options.TokenisationKeyPath));
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Created a new tokenisation key at {Path}: back it up with the accounts database, cards cannot be found by PAN without it")]
    private partial void LogKeyCreated(string path);
}
