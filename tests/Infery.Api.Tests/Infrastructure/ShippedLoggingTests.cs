using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Infery.Api.Tests.Infrastructure;

/// <summary>The log levels the gateway ships with write nothing per request and start nothing per request.</summary>
public sealed class ShippedLoggingTests
{
    private static readonly ILoggerFactory Shipped = LoggerFactory.Create(logging => logging
        .AddConfiguration(new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: false)
            .Build().GetSection("Logging"))
        .AddProvider(new EverythingProvider()));

    [Fact]
    public void ASP_NET_Cores_per_request_lines_are_not_written()
    {
        Shipped.CreateLogger("Microsoft.AspNetCore.Routing.EndpointMiddleware").IsEnabled(LogLevel.Information).ShouldBeFalse();
        Shipped.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").IsEnabled(LogLevel.Warning).ShouldBeTrue();
    }

    [Fact]
    public void Hosting_diagnostics_are_off_so_no_request_starts_an_activity_or_a_log_scope()
    {
        // ASP.NET Core starts an Activity and a log scope per request while this category is enabled at any level.
        Shipped.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Critical).ShouldBeFalse();
    }

    [Fact]
    public void The_gateways_own_errors_are_written()
    {
        Shipped.CreateLogger("Infery.Api.Gateway.ChatPipeline").IsEnabled(LogLevel.Error).ShouldBeTrue();
    }

    /// <summary>A provider that would write every level, so only the configured filters decide.</summary>
    private sealed class EverythingProvider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Everything();

        public void Dispose()
        {
        }

        private sealed class Everything : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
            }
        }
    }
}
