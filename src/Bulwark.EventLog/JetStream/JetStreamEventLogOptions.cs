using System.Text.RegularExpressions;

namespace Bulwark.EventLog.JetStream;

/// <summary>The cluster-mode event log: which NATS servers, which stream, how many replicas, how long to wait. Checked when the log opens.</summary>
public sealed partial record JetStreamEventLogOptions
{
    /// <summary>NATS server URL(s), comma-separated (nats://127.0.0.1:4222,nats://...).</summary>
    public required string Url { get; init; }

    /// <summary>The bank's name: the stream is one per bank, and the subjects carry it.</summary>
    public required string Bank { get; init; }

    /// <summary>The stream's name; by default BULWARK_LEDGER_ and the bank in capitals.</summary>
    public string? StreamName { get; init; }

    /// <summary>Stream replicas: 1 for a single server (tests), 3 in a cluster.</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>Bound on each NATS request (connect, publish acknowledgement, message get): an unreachable or hung server fails the call within about this.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMilliseconds(EventLogLimits.JetStreamRequestTimeoutMillisecondsDefault);

    /// <summary>The broker's own de-duplication window by message id; exactly-once beyond it comes from the expected-last-subject-sequence check.</summary>
    public TimeSpan DuplicateWindow { get; init; } = TimeSpan.FromMinutes(2);

    public string Stream => StreamName ?? "BULWARK_LEDGER_" + Bank.ToUpperInvariant().Replace('-', '_');

    /// <summary>The subject of one partition: bulwark.ledger.BANK.p.PARTITION.</summary>
    public string Subject(int partition) => $"bulwark.ledger.{Bank}.p.{partition}";

    internal string SubjectWildcard => $"bulwark.ledger.{Bank}.p.*";

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Url);
        if (!BankPattern().IsMatch(Bank ?? ""))
        {
            throw new ArgumentException($"A bank name for subjects is letters, digits, '-' and '_' ('{Bank}' is not).", nameof(Bank));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(Replicas, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Replicas, 5);
        ArgumentOutOfRangeException.ThrowIfLessThan(RequestTimeout, TimeSpan.FromMilliseconds(100));
        ArgumentOutOfRangeException.ThrowIfLessThan(DuplicateWindow, TimeSpan.FromSeconds(1));
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex BankPattern();
}
