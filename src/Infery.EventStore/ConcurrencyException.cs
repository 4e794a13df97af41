namespace Infery.EventStore;

/// <summary>The stream was not at the version the append expected: someone else appended first.</summary>
public sealed class ConcurrencyException(string streamId, ExpectedVersion expected, long? actual)
    : Exception($"stream '{streamId}' expected at version {expected} but was at {actual?.ToString() ?? "unknown"}")
{
    public string StreamId { get; } = streamId;
    public ExpectedVersion Expected { get; } = expected;
    public long? Actual { get; } = actual;
}
