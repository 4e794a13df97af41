using System.Globalization;
using Infery.Api.Http;
using Microsoft.Extensions.Options;

namespace Infery.Api.Gateway.ClientAddresses;

/// <summary>From the configuration section "AddressLimit".</summary>
public sealed class AddressRequestLimitOptions
{
    public const string Section = "AddressLimit";

    /// <summary>Requests one client address may make within <see cref="WindowSeconds"/>; 0 turns the limit off.</summary>
    public int MaxRequests { get; set; } = 5_000;

    public int WindowSeconds { get; set; } = 600;

    /// <summary>
    /// Whether addresses of the gateway's own network (<see cref="ClientNetwork.IsInternal"/>) count too. They do not by
    /// default: behind a load balancer whose forwarded headers are not trusted, every request comes from its address,
    /// and counting it would hold every client to one client's limit.
    /// </summary>
    public bool CountInternalAddresses { get; set; }

    public bool IsValid => MaxRequests >= 0 && WindowSeconds is >= 1 and <= 86_400;
}

/// <summary>
/// The safety net under the per-key limits: every request from one client address counts, whatever its key or
/// path, before anything else is done with it; only health probes do not, so that a busy address shared with the
/// prober does not take an instance out of its balancer. Held per instance, like the per-key limits.
/// </summary>
public sealed class AddressRequestLimit
{
    private static readonly PathString HealthProbes = "/health";

    private readonly AddressWindows? windows;
    private readonly bool countInternal;
    private readonly ApiError refusal;

    public AddressRequestLimit(IOptions<AddressRequestLimitOptions> options, TimeProvider clock)
    {
        var settings = options.Value;
        if (settings.MaxRequests > 0)
            windows = new AddressWindows(settings.MaxRequests, TimeSpan.FromSeconds(settings.WindowSeconds), clock, maxNetworks: 100_000);
        countInternal = settings.CountInternalAddresses;
        refusal = new ApiError(StatusCodes.Status429TooManyRequests,
            $"Too many requests from this address: at most {settings.MaxRequests} in {Describe(TimeSpan.FromSeconds(settings.WindowSeconds))}; retry later.",
            "rate_limit_error", null, "address_rate_limit_exceeded");
    }

    public bool IsOn => windows is not null;

    /// <summary>The refusal to answer with, or null to go on.</summary>
    public ApiError? Check(HttpContext context)
    {
        if (windows is null || context.Connection.RemoteIpAddress is not { } address || context.Request.Path.StartsWithSegments(HealthProbes))
            return null;
        var network = ClientNetwork.Of(address);
        if (!countInternal && network.IsInternal)
            return null;
        if (windows.TryTake(network, out var retryAfter))
            return null;
        context.Response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        return refusal;
    }

    private static string Describe(TimeSpan window) => (int)window.TotalSeconds switch
    {
        var s when s % 86_400 == 0 => Count(s / 86_400, "day"),
        var s when s % 3_600 == 0 => Count(s / 3_600, "hour"),
        var s when s % 60 == 0 => Count(s / 60, "minute"),
        var s => Count(s, "second"),
    };

    private static string Count(int n, string unit) => n == 1 ? $"1 {unit}" : $"{n} {unit}s";
}

public static class AddressRequestLimitMiddleware
{
    public static IApplicationBuilder UseAddressRequestLimit(this IApplicationBuilder app)
    {
        var limit = app.ApplicationServices.GetRequiredService<AddressRequestLimit>();
        if (!limit.IsOn)
            return app;
        return app.Use((context, next) => limit.Check(context) is { } refusal ? refusal.WriteAsync(context.Response) : next(context));
    }
}
