using Bulwark.Platform.Security;
using Bulwark.Support.Storage;

namespace Bulwark.Support.Security;

/// <summary>
/// Staff password hashing: the platform's PBKDF2 hasher (the one customers' passwords use) on a
/// hashing queue of the support service's own. Its own type, so that a process hosting accounts
/// beside support (<c>bulwark run</c>) keeps the two services' queues and limits apart.
/// </summary>
internal sealed class StaffPasswords(SupportOptions options) : IDisposable
{
    private readonly Pbkdf2PasswordHasher _hasher = new(options.PasswordIterations);

    public PasswordHashingQueue Queue { get; } = new(options.PasswordHashingConcurrency, options.PasswordHashingQueueMax);

    public StaffPassword Hash(string password)
    {
        var hash = _hasher.Hash(password);
        return new StaffPassword(hash.Algorithm, hash.Iterations, hash.Salt, hash.Hash);
    }

    /// <summary>Hashes once whether or not there is a stored password (null: an unknown email), so the timing tells nothing.</summary>
    public bool Verify(string password, StaffPassword? stored) =>
        _hasher.Verify(password, stored is null ? null : new PasswordHash(stored.Algorithm, stored.Iterations, stored.Salt, stored.Hash));

    public void Dispose() => Queue.Dispose();
}
