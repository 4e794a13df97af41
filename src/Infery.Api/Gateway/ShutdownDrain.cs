using Microsoft.Extensions.Options;

namespace Infery.Api.Gateway;

/// <summary>From the configuration section "Shutdown".</summary>
public sealed class ShutdownOptions
{
    public const string Section = "Shutdown";

    /// <summary>
    /// How long the gateway, told to stop, keeps taking new requests while its readiness probe answers 503, so that
    /// load balancers stop sending before the listener closes; 0 closes it at once.
    /// </summary>
    public int ReadinessDelaySeconds { get; set; }

    /// <summary>
    /// Up to 300 s, and shorter than the drain's grace, which counts from the stop too: requests arriving late in a
    /// longer delay would be cut as soon as they start.
    /// </summary>
    public bool FitsWithin(TimeSpan shutdownTimeout)
    {
        if (ReadinessDelaySeconds is < 0 or > 300)
            return false;
        var grace = ShutdownDrain.GraceWithin(shutdownTimeout);
        return ReadinessDelaySeconds == 0 || grace == Timeout.InfiniteTimeSpan || TimeSpan.FromSeconds(ReadinessDelaySeconds) < grace;
    }
}

/// <summary>
/// When the gateway is told to stop, it first keeps serving for the readiness delay, telling load balancers it is not
/// ready; then the server closes its listener and drains the requests in flight. Their grace, counted from the stop,
/// ends a little before the host's shutdown timeout: upstream calls still running then are cut, the request answered
/// 503 gateway_shutting_down, or a stream charged for what it sent, and those answers and charges are written before
/// the host gives up on them.
/// </summary>
public sealed class ShutdownDrain : IHostedLifecycleService, IDisposable
{
    /// <summary>Kept at the end of the shutdown timeout for writing the charges and answers of calls cut short.</summary>
    private static readonly TimeSpan ReservedForCutCalls = TimeSpan.FromSeconds(5);

    private readonly IHostApplicationLifetime lifetime;
    private readonly CancellationTokenSource graceOver;
    private readonly CancellationTokenRegistration onStopping;
    private readonly TimeSpan readinessDelay;
    private readonly TimeProvider clock;

    public ShutdownDrain(IHostApplicationLifetime lifetime, IOptions<HostOptions> host, IOptions<ShutdownOptions> shutdown, TimeProvider clock)
    {
        this.lifetime = lifetime;
        this.clock = clock;
        readinessDelay = TimeSpan.FromSeconds(shutdown.Value.ReadinessDelaySeconds);
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

    /// <summary>The host runs this before it stops any service, the server included: the listener stays open while it waits.</summary>
    public async Task StoppingAsync(CancellationToken ct)
    {
        if (readinessDelay <= TimeSpan.Zero)
            return;
        try
        {
            await Task.Delay(readinessDelay, clock, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public Task StartingAsync(CancellationToken ct) => Task.CompletedTask;

    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken ct) => Task.CompletedTask;

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken ct) => Task.CompletedTask;

    public void Dispose()
    {
        onStopping.Dispose();
        graceOver.Dispose();
    }
}
