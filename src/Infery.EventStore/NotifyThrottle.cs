namespace Infery.EventStore;

/// <summary>Lets a NOTIFY through when none went out for an interval; one writer asks, so no locking.</summary>
internal sealed class NotifyThrottle(TimeSpan interval, TimeProvider clock)
{
    private long lastNotify = long.MinValue;

    public bool ShouldNotify(long now)
    {
        if (lastNotify != long.MinValue && clock.GetElapsedTime(lastNotify, now) < interval)
            return false;
        lastNotify = now;
        return true;
    }
}
