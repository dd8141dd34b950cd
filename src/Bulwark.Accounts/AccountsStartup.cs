using System.Globalization;
using Bulwark.Accounts.Ledger;
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

    /// <summary>
    /// Until when requests may retry one made before issue 11 (raw idempotency keys as transfer
    /// ids): written at the first start with derived ids, kept on every later start.
    /// </summary>
    internal const string RawKeyRetriesUntilSetting = "raw_key_transfer_ids_until_unix_ms";

    /// <summary>When this database first derived transfer ids (Unix ms): written once, at that start.</summary>
    internal const string DerivedSinceSetting = "customer_transfer_ids_since_unix_ms";

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
                ". Restore this bank's key from its key backup (bulwark backup keys; see docs/runbooks/tokenisation-key.md); move the wrong file aside first.");
        }
        if (key.Created)
        {
            LogKeyCreated(keyPath);
        }
        await LoadTransferIdsAsync(store, cancellationToken);
    }

    private async Task LoadTransferIdsAsync(IAccountsStore store, CancellationToken cancellationToken)
    {
        var transferIdKey = services.GetRequiredService<TransferIdKey>();
        if (transferIdKey.Created)
        {
            LogTransferIdKeyCreated(Path.GetFullPath(options.TransferIdKeyFile));
        }
        var transferIds = services.GetRequiredService<CustomerTransferIds>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        // Only a database that already held movements can be asked to retry one made the old way.
        var until = await store.HasMovementsAsync(cancellationToken)
            ? now.AddHours(AccountsLimits.RawKeyRetryWindowHours).ToUnixTimeMilliseconds()
            : 0;
        var storedUntil = await store.GetOrAddSettingAsync(RawKeyRetriesUntilSetting, until.ToString(CultureInfo.InvariantCulture), cancellationToken);
        var storedSince = await store.GetOrAddSettingAsync(DerivedSinceSetting, now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture), cancellationToken);
        transferIds.RawKeyRetriesUntilUnixMs = long.Parse(storedUntil, NumberStyles.None, CultureInfo.InvariantCulture);
        transferIds.DerivedSinceUnixMs = long.Parse(storedSince, NumberStyles.None, CultureInfo.InvariantCulture);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 2202, Level = LogLevel.Information, Message = "Created a new transfer id key (key id 1) at {Path}")]
    private partial void LogTransferIdKeyCreated(string path);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Created a new tokenisation key at {Path}: back it up (bulwark backup keys), cards cannot be found by PAN without it")]
    private partial void LogKeyCreated(string path);
}
