using Npgsql;

namespace Infery.EventStore.Tests;

public sealed class NotifyThrottleTests(EventStoreFixture db) : IClassFixture<EventStoreFixture>
{
    [Theory]
    [InlineData(0, 30)]
    [InlineData(3_600_000, 1)]
    public async Task Commits_send_at_most_one_notify_per_interval(int intervalMs, int expectedNotifications)
    {
        var channel = $"appended_{Guid.NewGuid():N}";
        await using var listener = await db.DataSource.OpenConnectionAsync();
        var received = 0;
        listener.Notification += (_, e) => { if (e.Channel == channel) Interlocked.Increment(ref received); };
        await using (var listen = new NpgsqlCommand($"listen {channel}", listener))
            await listen.ExecuteNonQueryAsync();

        await using (var store = new EventStore(db.DataSource, EventStoreFixture.NewRegistry(),
            new EventStoreOptions { NotifyChannel = channel, NotifyInterval = TimeSpan.FromMilliseconds(intervalMs) }))
        {
            for (var i = 0; i < 30; i++)
                await store.AppendOnceAsync($"notify-{Guid.NewGuid():N}", [new ThingHappened(i, "n")], EventMetadata.None);
        }

        // Each wait delivers one pending notification; the last one finds none left.
        while (await listener.WaitAsync(TimeSpan.FromMilliseconds(300)))
        {
        }
        received.ShouldBe(expectedNotifications);
    }
}
