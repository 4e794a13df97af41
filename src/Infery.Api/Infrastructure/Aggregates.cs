using Infery.Api.Http;
using Infery.Domain;
using Infery.EventStore;

namespace Infery.Api.Infrastructure;

/// <summary>
/// Load a stream's state, decide, append at the version it was loaded at. A concurrent change makes the
/// append fail with a concurrency error, and the whole load–decide–append runs again on the new state.
/// </summary>
public sealed class Aggregates(EventStore.EventStore store, TimeProvider clock)
{
    private const int Attempts = 8;

    public async Task<(TState State, long Version)> LoadAsync<TState>(
        string streamId, TState initial, Func<TState, object, TState> evolve, CancellationToken ct)
    {
        var events = await store.ReadStreamAsync(streamId, ct: ct);
        var state = initial;
        foreach (var e in events)
            state = evolve(state, e.Data);
        return (state, events.Count == 0 ? 0 : events[^1].Version);
    }

    /// <returns>The state after the new events, and the events themselves.</returns>
    public async Task<(TState State, IReadOnlyList<object> Events)> ExecuteAsync<TState>(
        string streamId, string streamType, TState initial, Func<TState, object, TState> evolve,
        Func<TState, DateTimeOffset, IReadOnlyList<object>> decide, EventMetadata metadata, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (state, version) = await LoadAsync(streamId, initial, evolve, ct);
            var events = decide(state, clock.GetUtcNow());
            if (events.Count == 0)
                return (state, events);
            try
            {
                await store.AppendAsync(streamId, streamType, ExpectedVersion.Exactly(version), events, metadata, ct);
                return (events.Aggregate(state, evolve), events);
            }
            catch (ConcurrencyException) when (attempt < Attempts)
            {
                // Writers that collided would collide again if they all retried at once.
                await Task.Delay(Random.Shared.Next(1, 5 * attempt), ct);
            }
            catch (ConcurrencyException)
            {
                throw new DomainException(ConcurrentModification,
                    "Other requests changed this at the same moment, too often to retry here; send the request again.");
            }
        }
    }

    public const string ConcurrentModification = "concurrent_modification";

    public static ApiError ToApiError(DomainException e) => e.Code switch
    {
        ConcurrentModification => new ApiError(409, e.Message, "invalid_request_error", e.Param, e.Code),
        _ when e.Code.EndsWith("_not_found", StringComparison.Ordinal) => new ApiError(404, e.Message, "invalid_request_error", e.Param, e.Code),
        _ when e.Code.EndsWith("_exists", StringComparison.Ordinal) => new ApiError(409, e.Message, "invalid_request_error", e.Param, e.Code),
        _ => ApiError.InvalidRequest(e.Message, e.Param, e.Code),
    };
}
