using System.Globalization;

namespace Bulwark.Cli.Hosting;

/// <summary>
/// An exclusive lock on a data directory (<c>bank.lock</c>), held while a process runs the bank
/// on it. The ledger keeps balances in memory and assumes it is the only writer of its file, so a
/// second process writing the same files (a second <c>bulwark run</c>, or <c>bulwark cards clear</c>
/// against a running bank) would corrupt it; the lock turns that into a clear refusal. On Linux and
/// macOS .NET takes an advisory <c>flock</c> for <see cref="FileShare.None"/>; the kernel releases it
/// when the process dies, so a crash never leaves a stale lock behind.
/// </summary>
public sealed class BankLock : IDisposable
{
    public const string FileName = "bank.lock";

    private readonly FileStream _stream;

    private BankLock(FileStream stream) => _stream = stream;

    /// <summary>Takes the lock, or returns null with the holder's description when another process has it.</summary>
    public static BankLock? TryAcquire(string dataDirectory, out string holder)
    {
        Bulwark.Platform.Security.PrivateFiles.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(path))
        {
            // The holder's file cannot be read while it is locked (readers take a shared lock).
            holder = $"{FileName} is held by another process";
            return null;
        }
        try
        {
            stream.SetLength(0);
            var text = string.Create(CultureInfo.InvariantCulture, $"pid {Environment.ProcessId}, since {DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ}\n");
            stream.Write(System.Text.Encoding.ASCII.GetBytes(text));
            stream.Flush();
            holder = "";
            return new BankLock(stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    public void Dispose() => _stream.Dispose();
}
