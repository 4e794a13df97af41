using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Infery.Api.Tests.Fakes;

/// <summary>A logger provider that keeps every line written at Warning or above, for tests to read.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> lines = new();

    public IEnumerable<string> At(LogLevel level) => lines.Where(l => l.Level == level).Select(l => l.Message);

    public ILogger CreateLogger(string categoryName) => new Capturing(lines);

    public void Dispose()
    {
    }

    private sealed class Capturing(ConcurrentQueue<(LogLevel, string)> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                lines.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
