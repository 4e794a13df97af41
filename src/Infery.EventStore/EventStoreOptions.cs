namespace Infery.EventStore;

public sealed class EventStoreOptions
{
    /// <summary>The most appends the writer puts in one transaction.</summary>
    public int MaxAppendsPerCommit { get; init; } = 512;

    /// <summary>Pending appends beyond this wait for room: back-pressure rather than unbounded memory.</summary>
    public int QueueCapacity { get; init; } = 16_384;

    /// <summary>The channel NOTIFY is sent on after each commit; projection daemons LISTEN on it.</summary>
    public string NotifyChannel { get; init; } = "events_appended";

    public IReadOnlyList<IInlineProjection> InlineProjections { get; init; } = [];

    public TimeProvider Clock { get; init; } = TimeProvider.System;
}
