namespace Infery.EventStore;

public sealed class EventStoreOptions
{
    /// <summary>The most appends the writer puts in one transaction.</summary>
    public int MaxAppendsPerCommit { get; init; } = 512;

    /// <summary>Pending appends beyond this wait for room: back-pressure rather than unbounded memory.</summary>
    public int QueueCapacity { get; init; } = 16_384;

    /// <summary>The channel NOTIFY is sent on after a commit; projection daemons LISTEN on it.</summary>
    public string NotifyChannel { get; init; } = "events_appended";

    /// <summary>
    /// At most one NOTIFY per interval. Every NOTIFY wakes each listening backend and takes PostgreSQL's
    /// cluster-wide notify lock at commit, which under load cost more than the rest of a small commit;
    /// a daemon woken once reads everything committed since, and its poll finds what came after.
    /// </summary>
    public TimeSpan NotifyInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    public IReadOnlyList<IInlineProjection> InlineProjections { get; init; } = [];

    public TimeProvider Clock { get; init; } = TimeProvider.System;
}
