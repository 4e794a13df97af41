namespace Infery.EventStore;

/// <summary>A position in the global order of events: transaction id first, then sequence number.</summary>
public readonly record struct GlobalPosition(ulong TxId, long Seq) : IComparable<GlobalPosition>
{
    public static readonly GlobalPosition Start = new(0, 0);

    public int CompareTo(GlobalPosition other)
    {
        var byTx = TxId.CompareTo(other.TxId);
        return byTx != 0 ? byTx : Seq.CompareTo(other.Seq);
    }

    public override string ToString() => $"{TxId}:{Seq}";
}

/// <summary>An event as it is appended: inline projections see these inside the appending transaction.</summary>
public record EventEnvelope(
    string StreamId,
    long Version,
    string TypeName,
    object Data,
    EventMetadata Metadata,
    DateTimeOffset Timestamp);

/// <summary>An event read back from the store, with its place in the global order.</summary>
public sealed record StoredEvent(
    GlobalPosition Position,
    string StreamId,
    long Version,
    string TypeName,
    object Data,
    EventMetadata Metadata,
    DateTimeOffset Timestamp)
    : EventEnvelope(StreamId, Version, TypeName, Data, Metadata, Timestamp);

/// <summary>What an append left behind: the stream's version after it.</summary>
public readonly record struct AppendResult(long NextExpectedVersion);
