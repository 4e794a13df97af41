using Microsoft.Extensions.Options;

namespace Infery.Api.Gateway;

/// <summary>
/// When the gateway is told to stop, the requests in flight get a grace period to finish while the server drains
/// them. Upstream calls still running when it ends are cut: the request is answered 503 gateway_shutting_down, or a
/// stream is charged for what it sent. The grace ends a little before the host's shutdown timeout, so that those
/// answers and charges are written before the host gives up on them.
/// </summary>
public sealed class ShutdownDrain : IDisposable
{
    /// <summary>Kept at the end of the shutdown timeout for writing the charges and answers of calls cut short.</summary>
    private static readonly TimeSpan ReservedForCutCalls = TimeSpan.FromSeconds(5);

    private readonly IHostApplicationLifetime lifetime;
    private readonly CancellationTokenSource graceOver;
    private readonly CancellationTokenRegistration onStopping;

    public ShutdownDrain(IHostApplicationLifetime lifetime, IOptions<HostOptions> host, TimeProvider clock)
    {
        this.lifetime = lifetime;
        Grace = GraceWithin(host.Value.ShutdownTimeout);
        graceOver = new CancellationTokenSource(Timeout.InfiniteTimeSpan, clock);
        onStopping = lifetime.ApplicationStopping.Register(() => graceOver.CancelAfter(Grace));
    }

    public TimeSpan Grace { get; }

    /// <summary>The gateway was told to stop: it finishes what it has, and tells load balancers it is not ready.</summary>
    public bool Draining => lifetime.ApplicationStopping.IsCancellationRequested;

    /// <summary>Cancelled when the grace ends; upstream calls run under it.</summary>
    public CancellationToken GraceOver => graceOver.Token;

    public bool IsOver => graceOver.IsCancellationRequested;

    /// <summary>The shutdown timeout less five seconds, or half of it when it is shorter than ten; no end when it has none.</summary>
    public static TimeSpan GraceWithin(TimeSpan shutdownTimeout) =>
        shutdownTimeout == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan
        : shutdownTimeout <= TimeSpan.Zero ? TimeSpan.Zero
        : shutdownTimeout - TimeSpan.FromTicks(Math.Min(ReservedForCutCalls.Ticks, shutdownTimeout.Ticks / 2));

    public void Dispose()
    {
        onStopping.Dispose();
        graceOver.Dispose();
    }
}
