using Npgsql;

namespace Infery.EventStore.Projections;

/// <summary>
/// A read model built behind the writers by the projection daemon. Apply runs inside the transaction
/// that also moves the projection's checkpoint, so rows and checkpoint never disagree.
/// </summary>
public interface IAsyncProjection
{
    /// <summary>Stable name: the checkpoint is stored under it.</summary>
    string Name { get; }

    Task ApplyAsync(IReadOnlyList<StoredEvent> events, NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct);

    /// <summary>Deletes every row of the read model, before a rebuild from the first event.</summary>
    Task ResetAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct);
}
