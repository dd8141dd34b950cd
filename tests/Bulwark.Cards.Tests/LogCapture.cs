using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Bulwark.Cards.Tests;

/// <summary>A logger provider that keeps every entry, rendered as the console's simple formatter would: the message, then the exception (its stack trace) when there is one.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            var text = formatter(state, exception);
            if (exception is not null)
            {
                text += Environment.NewLine + exception;
            }
            entries.Enqueue(new LogEntry(category, logLevel, eventId.Id, text, exception));
        }
    }
}

public sealed record LogEntry(string Category, LogLevel Level, int EventId, string Text, Exception? Exception);
