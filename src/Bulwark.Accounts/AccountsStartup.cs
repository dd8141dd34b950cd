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
    /// <summary>Where the accounts database remembers which tokenisation key its cards were tokenised with.</summary>
    internal const string KeyFingerprintSetting = "tokenisation_key_fingerprint";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var store = services.GetRequiredService<IAccountsStore>();
        var key = services.GetRequiredService<TokenisationKey>();
        var keyPath = Path.GetFullPath(options.TokenisationKeyPath);
        var fingerprint = key.Fingerprint();
        var stored = await store.GetOrAddSettingAsync(KeyFingerprintSetting, fingerprint, cancellationToken);
        if (stored != fingerprint)
        {
            // A lost key file silently replaced by a new one would make every card unknown, and
            // every card payment a decline: refuse to start instead.
            throw new InvalidOperationException(
                $"The tokenisation key at {keyPath} is not the key this accounts database's cards were tokenised with" +
                (key.Created ? " (the key file was missing, so a new key was just created)" : "") +
                ". Restore the key file that was backed up with this database (see docs/runbooks/tokenisation-key.md); move the wrong file aside first.");
        }
        if (key.Created)
        {
            LogKeyCreated(keyPath);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Created a new tokenisation key at {Path}: back it up with the accounts database, cards cannot be found by PAN without it")]
    private partial void LogKeyCreated(string path);
}
