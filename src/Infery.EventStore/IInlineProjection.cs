using Npgsql;

namespace Infery.EventStore;

/// <summary>
/// A read model updated in the same transaction as the events it reads. It adds its SQL to the batch
/// that writes those events, so it costs no extra round-trip and commits or fails with them.
/// </summary>
public interface IInlineProjection
{
    void Project(IReadOnlyList<EventEnvelope> events, NpgsqlBatch batch);
}
