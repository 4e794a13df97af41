using System.Collections.Concurrent;

namespace Infery.Api.Gateway.RateLimiting;

/// <summary>
/// Requests per minute per key, as a sliding window over the current and previous minute. Held per
/// instance: with N instances behind a balancer a key gets at most N times its rpm (documented in the README).
/// </summary>
public sealed class KeyRateLimiter(TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, Window> windows = new(StringComparer.Ordinal);

    public RateDecision TryAcquire(string keyId, int rpm)
    {
        var window = windows.GetOrAdd(keyId, _ => new Window());
        return window.TryAcquire(rpm, clock.GetUtcNow().ToUnixTimeMilliseconds());
    }

    private sealed class Window
    {
        private readonly Lock gate = new();
        private long minute;
        private int current;
        private int previous;

        public RateDecision TryAcquire(int rpm, long nowMs)
        {
            lock (gate)
            {
                var nowMinute = nowMs / 60_000;
                if (nowMinute != minute)
                {
                    previous = nowMinute == minute + 1 ? current : 0;
                    current = 0;
                    minute = nowMinute;
                }
                var intoMinute = nowMs % 60_000;
                var weighted = previous * (60_000 - intoMinute) / 60_000.0 + current;
                if (weighted + 1 > rpm)
                {
                    var retryAfter = TimeSpan.FromMilliseconds(Math.Max(1000, 60_000 - intoMinute));
                    return new RateDecision(false, rpm, 0, retryAfter);
                }
                current++;
                return new RateDecision(true, rpm, Math.Max(0, rpm - (int)Math.Ceiling(weighted + 1)), TimeSpan.FromMilliseconds(60_000 - intoMinute));
            }
        }
    }
}

public readonly record struct RateDecision(bool Allowed, int Limit, int Remaining, TimeSpan Reset);
